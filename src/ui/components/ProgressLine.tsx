// One labelled progress bar: "epoch 3/10 ███████▌░░░░░  42%  5/12 steps · ETA 8.1s".
import React from 'react';
import { Box, Text } from 'ink';
import { formatDuration, progressBar } from '../format.js';

export interface ProgressLineProps {
  label: string;
  done: number;
  total: number;
  /** What is counted: "steps", "clips", "videos". */
  unit: string;
  etaSeconds?: number;
  /** Extra words after the ETA, e.g. "from cache". */
  note?: string;
  labelWidth?: number;
  barWidth?: number;
}

export function ProgressLine(props: ProgressLineProps): React.JSX.Element {
  const fraction = props.total > 0 ? props.done / props.total : 0;
  const percent = `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`.padStart(4);
  const eta = props.etaSeconds !== undefined && props.done < props.total ? ` · ETA ${formatDuration(props.etaSeconds)}` : '';
  return (
    <Box>
      <Text bold>{props.label.padEnd(props.labelWidth ?? 12)}</Text>
      <Text color="cyan">{progressBar(fraction, props.barWidth ?? 28)}</Text>
      <Text>
        {` ${percent}  ${props.done}/${props.total}${props.unit ? ` ${props.unit}` : ''}${eta}`}
      </Text>
      {props.note ? <Text dimColor>{`  ${props.note}`}</Text> : null}
    </Box>
  );
}

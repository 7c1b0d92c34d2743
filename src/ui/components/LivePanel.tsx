// The live area under the finished epochs: progress of the epoch and the run with ETAs, the
// current loss and its sparkline, throughput and where the time goes, memory, skips, and the
// last checkpoint. Redrawn on every frame.
import React from 'react';
import { Box, Text } from 'ink';
import type { DashboardState } from '../state.js';
import { estimateRemaining } from '../state.js';
import { formatDuration, formatLoss, formatLr, formatPercent, sparkline } from '../format.js';
import { memoryLine, throughputLine } from '../lines.js';
import { ProgressLine } from './ProgressLine.js';

export function LivePanel({ state }: { state: DashboardState }): React.JSX.Element | null {
  const { epoch, lastStep } = state;
  const eta = estimateRemaining(state);
  const elapsed = state.startedAt !== undefined ? (state.now - state.startedAt) / 1000 : 0;
  return (
    <Box flexDirection="column" marginTop={1}>
      {epoch ? (
        <ProgressLine
          label={`epoch ${epoch.epoch}/${epoch.epochs}`}
          done={epoch.stepInEpoch}
          total={epoch.steps}
          unit="steps"
          etaSeconds={eta.epochSeconds}
          note={epoch.fromCache ? 'features from cache' : undefined}
        />
      ) : (
        <Text dimColor>preparing…</Text>
      )}
      {lastStep ? (
        <ProgressLine
          label="run"
          done={lastStep.step}
          total={lastStep.totalSteps}
          unit="steps"
          etaSeconds={eta.runSeconds}
          note={`elapsed ${formatDuration(elapsed)}`}
        />
      ) : null}
      {state.validating ? (
        <ProgressLine label="validating" done={state.validating.done} total={state.validating.total} unit="clips" />
      ) : null}
      {lastStep ? (
        <>
          <Box>
            <Text>{'loss '}</Text>
            <Text bold>{formatLoss(lastStep.loss)}</Text>
            <Text color="magenta">{` ${sparkline(state.recentLosses)}`}</Text>
            <Text>{`  acc ${formatPercent(lastStep.accuracy)}  lr ${formatLr(lastStep.lr)}`}</Text>
          </Box>
          <Text>{throughputLine(lastStep)}</Text>
          <Text>{memoryLine(lastStep)}</Text>
        </>
      ) : null}
      {state.skipped > 0 ? (
        <Text color="yellow">
          {`skipped ${state.skipped} file${state.skipped === 1 ? '' : 's'}`}
          {state.lastSkip ? ` · last: ${state.lastSkip.path}: ${state.lastSkip.reason}` : ''}
        </Text>
      ) : null}
      {state.lastCheckpoint ? (
        <Text dimColor>
          {`checkpoint (${state.lastCheckpoint.kind}) saved: ${state.lastCheckpoint.path}`}
          {state.lastCheckpoint.epoch !== undefined ? ` (epoch ${state.lastCheckpoint.epoch})` : ''}
        </Text>
      ) : null}
    </Box>
  );
}

// What stays on screen when the run is over: how it ended, and where its files are.
import React from 'react';
import { Box, Text } from 'ink';
import type { EndEvent } from '../state.js';
import { endLine, filesLines } from '../lines.js';
import { ToneText } from './ToneText.js';

export function EndPanel({ end, skipped }: { end: EndEvent; skipped: number }): React.JSX.Element {
  return (
    <Box flexDirection="column" marginTop={1}>
      <ToneText line={endLine(end)} />
      {skipped > 0 ? <Text color="yellow">{`${skipped} file${skipped === 1 ? '' : 's'} skipped (see the run's log)`}</Text> : null}
      {filesLines(end.files).map((line, i) => <Text key={i}>{line}</Text>)}
    </Box>
  );
}

// One item of the permanent output above the live area: the header, the epoch table's heading,
// a finished epoch row, or a log message.
import React from 'react';
import { Box, Text } from 'ink';
import type { StaticItem } from '../state.js';
import { epochTableHead, epochTableRow, headerLines } from '../lines.js';
import { ToneText } from './ToneText.js';

export function StaticLine({ item }: { item: StaticItem }): React.JSX.Element {
  switch (item.kind) {
    case 'header':
      return (
        <Box flexDirection="column">
          {headerLines(item.run).map((line, i) => <ToneText key={i} line={line} />)}
        </Box>
      );
    case 'table-head':
      return <Box marginTop={1}><Text dimColor>{epochTableHead()}</Text></Box>;
    case 'epoch':
      return item.summary.best
        ? <Text color="green">{epochTableRow(item.summary, item.epochs)}</Text>
        : <Text>{epochTableRow(item.summary, item.epochs)}</Text>;
    case 'log':
      return item.level === 'warn'
        ? <Text color="yellow">{`warning: ${item.message}`}</Text>
        : <Text dimColor>{item.message}</Text>;
  }
}

// A line of text coloured by its tone (see lines.ts).
import React from 'react';
import { Text } from 'ink';
import type { ToneLine } from '../lines.js';

export function ToneText({ line }: { line: ToneLine }): React.JSX.Element {
  switch (line.tone) {
    case 'bold':
      return <Text bold>{line.text}</Text>;
    case 'dim':
      return <Text dimColor>{line.text}</Text>;
    case 'warn':
      return <Text bold color="yellow">{line.text}</Text>;
    case 'error':
      return <Text bold color="red">{line.text}</Text>;
    case 'good':
      return <Text bold color="green">{line.text}</Text>;
    default:
      return <Text>{line.text}</Text>;
  }
}

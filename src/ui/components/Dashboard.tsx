// The training dashboard: permanent lines (header, finished epochs, messages) in <Static>,
// the live panel below them, and the q / Ctrl-C key that asks the run to stop.
import React, { useCallback, useMemo, useRef, useState } from 'react';
import { Box, Static, Text, useInput, useStdin } from 'ink';
import { staticItems, type DashboardState, type StaticItem } from '../state.js';
import { StaticLine } from './StaticLine.js';
import { LivePanel } from './LivePanel.js';
import { EndPanel } from './EndPanel.js';

export interface DashboardProps {
  state: DashboardState;
  /** Called once when the user presses q or Ctrl-C; without it no keys are read. */
  onStop?: () => void;
  /** Called when Ctrl-C is pressed again after a stop was asked for. */
  onForceStop?: () => void;
}

export function Dashboard({ state, onStop, onForceStop }: DashboardProps): React.JSX.Element {
  const { isRawModeSupported } = useStdin();
  const stopAsked = useRef(false);
  const [stopping, setStopping] = useState(false);
  const listening = Boolean(onStop) && isRawModeSupported && !state.end;

  const onKey = useCallback(
    (input: string, key: { ctrl: boolean }) => {
      const ctrlC = key.ctrl && input === 'c';
      if (input !== 'q' && !ctrlC) return;
      if (!stopAsked.current) {
        stopAsked.current = true;
        setStopping(true);
        onStop?.();
      } else if (ctrlC) {
        onForceStop?.();
      }
    },
    [onStop, onForceStop],
  );
  useInput(onKey, { isActive: listening });

  const showStopping = (stopping || state.stopping) && !state.end;
  // A new array only when lines were added: <Static> prints the ones past those it printed.
  const lines = useMemo(() => staticItems(state.staticLog), [state.staticLog]);
  return (
    <Box flexDirection="column">
      <Static items={lines}>{(item: StaticItem) => <StaticLine key={item.key} item={item} />}</Static>
      {state.end ? <EndPanel end={state.end} skipped={state.skipped} /> : <LivePanel state={state} />}
      {showStopping ? (
        <Text bold color="yellow">stopping after checkpoint… (Ctrl-C again to quit at once)</Text>
      ) : listening ? (
        <Text dimColor>press q to stop after a checkpoint</Text>
      ) : null}
    </Box>
  );
}

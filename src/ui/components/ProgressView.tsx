// The progress bar of `losa features`, `eval` and `classify` over many inputs, with messages
// (log events) printed permanently above it.
import React, { useMemo } from 'react';
import { Box, Static } from 'ink';
import { staticItems, type DashboardState, type StaticItem } from '../state.js';
import { StaticLine } from './StaticLine.js';
import { ProgressLine } from './ProgressLine.js';

export function ProgressView({ state }: { state: DashboardState }): React.JSX.Element {
  const p = state.progress;
  let eta: number | undefined;
  if (p && p.done > 0) eta = ((state.now - p.startedAt) / 1000 / p.done) * (p.total - p.done);
  const logs = useMemo(() => staticItems(state.staticLog).filter((i) => i.kind === 'log'), [state.staticLog]);
  return (
    <Box flexDirection="column">
      <Static items={logs}>{(item: StaticItem) => <StaticLine key={item.key} item={item} />}</Static>
      {p && !state.end ? (
        <ProgressLine label={p.label} done={p.done} total={p.total} unit="" etaSeconds={eta} labelWidth={p.label.length + 1} />
      ) : null}
    </Box>
  );
}

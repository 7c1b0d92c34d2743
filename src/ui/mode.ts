// Which renderer a command uses, from the terminal and the flags.

export type RenderMode = 'tui' | 'plain' | 'json' | 'quiet';

/**
 * `json` with --json; `tui` on a terminal unless --no-tui; otherwise `plain`, or `quiet` when
 * `quietWhenPlain` (the progress of features, eval and classify, which prints nothing when
 * not on a terminal).
 */
export function pickRenderMode(opts: { isTTY: boolean; noTui?: boolean; json?: boolean; quietWhenPlain?: boolean }): RenderMode {
  if (opts.json) return 'json';
  if (opts.isTTY && !opts.noTui) return 'tui';
  return opts.quietWhenPlain ? 'quiet' : 'plain';
}

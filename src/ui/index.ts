// Public API of src/ui/: renderers for the events of src/train/events.ts, formatting helpers
// for the commands, and the SVG plots. Ink and Vega load lazily, when first drawn with.
export { type RenderMode, pickRenderMode } from './mode.js';
export { type Renderer, type RendererIO, type RendererOptions, createRenderer } from './renderer.js';
export { formatDuration, formatCount, formatPercent, formatLoss } from './format.js';
export { type CurvePoint, CURVE_PANEL, curvePointFromSummary, renderCurvesSvg, writeCurves } from './curves.js';
export {
  renderConfusionSvg,
  mostConfusedClasses,
  CONFUSION_FULL_LIMIT,
  CONFUSION_SHOWN,
  writeConfusion,
} from './plots.js';

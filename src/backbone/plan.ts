// From a naming scheme and a config to a loading plan: which file tensors make each graph weight
// and how (copy, transpose, concatenate), and the shape every file tensor must have. Nothing is
// read here; weights.ts checks the plan against the file's header, then reads.
import type { BackboneConfig } from './config.js';
import { withDefaults } from './config.js';
import { namingScheme, type BlockNames, type NamingScheme, type WeightNaming } from './naming.js';

/** How a graph weight is made from file tensors. */
export type Recipe =
  | { kind: 'copy'; source: string }
  /** A Linear weight [out, in] → [in, out]. */
  | { kind: 'transpose'; source: string }
  /** Separate query/key/value weights [D, D] → packed [D, 3D]. */
  | { kind: 'transpose-concat'; sources: [string, string, string] }
  /** Separate biases [D] → [3D]. */
  | { kind: 'concat'; sources: [string, string, string] }
  /** The position embedding, refitted to the graph's tokens and grid. */
  | { kind: 'pos'; source: string }
  /** The register tokens, plus their position embeddings when the file gives them some. */
  | { kind: 'reg'; source: string };

export interface NamingPlan {
  naming: WeightNaming;
  scheme: NamingScheme;
  /** Graph weight name → how to build it (for every block of the config). */
  recipes: Map<string, Recipe>;
  /** File tensor name → its expected shape; the position embedding is checked on its own. */
  expected: Map<string, number[]>;
  /** The position embedding, and whether it is stored [n, D] rather than [1, n, D]. */
  pos: { name: string; flat: boolean };
  /** Parts the config asks for that this naming has no tensor for ("ln_pre", "LayerScale" …). */
  absent: string[];
}

/** Record that the file must hold `name` with `shape`; returns the name. */
function need(plan: NamingPlan, name: string, shape: number[]): string {
  plan.expected.set(name, shape);
  return name;
}

function blockRecipes(plan: NamingPlan, names: BlockNames, i: number, d: number, m: number, layerScale: boolean): void {
  const { recipes } = plan;
  const b = `block${i}.`;
  const norm = (graph: string, file: string): void => {
    recipes.set(`${b}${graph}.weight`, { kind: 'copy', source: need(plan, `${file}.weight`, [d]) });
    recipes.set(`${b}${graph}.bias`, { kind: 'copy', source: need(plan, `${file}.bias`, [d]) });
  };
  const linear = (graph: string, weight: string, bias: string, out: number, inp: number): void => {
    recipes.set(`${b}${graph}.weight`, { kind: 'transpose', source: need(plan, weight, [out, inp]) });
    recipes.set(`${b}${graph}.bias`, { kind: 'copy', source: need(plan, bias, [out]) });
  };
  norm('ln1', names.ln1);
  if ('packed' in names.qkv) {
    linear('qkv', names.qkv.packed.weight, names.qkv.packed.bias, 3 * d, d);
  } else {
    const [q, k, v] = [names.qkv.q, names.qkv.k, names.qkv.v];
    recipes.set(b + 'qkv.weight', { kind: 'transpose-concat', sources: [q, k, v].map((x) => need(plan, `${x}.weight`, [d, d])) as [string, string, string] });
    recipes.set(b + 'qkv.bias', { kind: 'concat', sources: [q, k, v].map((x) => need(plan, `${x}.bias`, [d])) as [string, string, string] });
  }
  linear('proj', `${names.proj}.weight`, `${names.proj}.bias`, d, d);
  norm('ln2', names.ln2);
  linear('fc1', `${names.fc1}.weight`, `${names.fc1}.bias`, m, d);
  linear('fc2', `${names.fc2}.weight`, `${names.fc2}.bias`, d, m);
  if (!layerScale || !names.ls1 || !names.ls2) return;
  recipes.set(b + 'ls1', { kind: 'copy', source: need(plan, names.ls1, [d]) });
  recipes.set(b + 'ls2', { kind: 'copy', source: need(plan, names.ls2, [d]) });
}

export function namingPlan(naming: WeightNaming, config: BackboneConfig): NamingPlan {
  const c = withDefaults(config);
  const { width: d, mlpDim: m, patchSize: p } = c;
  const scheme = namingScheme(naming.kind);
  const e = scheme.embeddings(naming.prefix);
  const plan: NamingPlan = { naming, scheme, recipes: new Map(), expected: new Map(), pos: e.pos, absent: [] };
  const { recipes, absent } = plan;
  recipes.set('patch.weight', { kind: 'copy', source: need(plan, `${e.patch}.weight`, [d, 3, p, p]) });
  if (c.patchBias) recipes.set('patch.bias', { kind: 'copy', source: need(plan, `${e.patch}.bias`, [d]) });
  if (c.classToken) {
    if (e.cls) recipes.set('cls', { kind: 'copy', source: need(plan, e.cls.name, e.cls.flat ? [d] : [1, 1, d]) });
    else absent.push('a class token');
  }
  if (c.registers > 0) {
    if (e.reg) recipes.set('reg', { kind: 'reg', source: need(plan, e.reg, [1, c.registers, d]) });
    else absent.push('register tokens');
  }
  recipes.set('pos', { kind: 'pos', source: e.pos.name });
  if (c.lnPre) {
    if (e.lnPre) {
      recipes.set('ln_pre.weight', { kind: 'copy', source: need(plan, `${e.lnPre}.weight`, [d]) });
      recipes.set('ln_pre.bias', { kind: 'copy', source: need(plan, `${e.lnPre}.bias`, [d]) });
    } else {
      absent.push('ln_pre');
    }
  }
  for (let i = 0; i < c.depth; i++) blockRecipes(plan, scheme.block(naming.prefix, i), i, d, m, c.layerScale);
  if (c.layerScale && !scheme.block(naming.prefix, 0).ls1) absent.push('LayerScale');
  return plan;
}

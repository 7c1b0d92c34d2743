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

function blockRecipes(plan: NamingPlan, names: BlockNames, i: number, d: number, m: number, layerScale: boolean): void {
  const { recipes, expected } = plan;
  const need = (name: string, shape: number[]): string => {
    expected.set(name, shape);
    return name;
  };
  const b = `block${i}.`;
  const norm = (graph: string, file: string): void => {
    recipes.set(`${b}${graph}.weight`, { kind: 'copy', source: need(`${file}.weight`, [d]) });
    recipes.set(`${b}${graph}.bias`, { kind: 'copy', source: need(`${file}.bias`, [d]) });
  };
  const linear = (graph: string, file: string, out: number, inp: number): void => {
    recipes.set(`${b}${graph}.weight`, { kind: 'transpose', source: need(`${file}.weight`, [out, inp]) });
    recipes.set(`${b}${graph}.bias`, { kind: 'copy', source: need(`${file}.bias`, [out]) });
  };
  norm('ln1', names.ln1);
  if ('packed' in names.qkv) {
    recipes.set(b + 'qkv.weight', { kind: 'transpose', source: need(names.qkv.packed.weight, [3 * d, d]) });
    recipes.set(b + 'qkv.bias', { kind: 'copy', source: need(names.qkv.packed.bias, [3 * d]) });
  } else {
    const { q, k, v } = names.qkv;
    recipes.set(b + 'qkv.weight', { kind: 'transpose-concat', sources: [need(`${q}.weight`, [d, d]), need(`${k}.weight`, [d, d]), need(`${v}.weight`, [d, d])] });
    recipes.set(b + 'qkv.bias', { kind: 'concat', sources: [need(`${q}.bias`, [d]), need(`${k}.bias`, [d]), need(`${v}.bias`, [d])] });
  }
  linear('proj', names.proj, d, d);
  norm('ln2', names.ln2);
  linear('fc1', names.fc1, m, d);
  linear('fc2', names.fc2, d, m);
  if (!layerScale || !names.ls1 || !names.ls2) return;
  recipes.set(b + 'ls1', { kind: 'copy', source: need(names.ls1, [d]) });
  recipes.set(b + 'ls2', { kind: 'copy', source: need(names.ls2, [d]) });
}

export function namingPlan(naming: WeightNaming, config: BackboneConfig): NamingPlan {
  const c = withDefaults(config);
  const { width: d, mlpDim: m, patchSize: p } = c;
  const scheme = namingScheme(naming.kind);
  const e = scheme.embeddings(naming.prefix);
  const plan: NamingPlan = { naming, scheme, recipes: new Map(), expected: new Map(), pos: e.pos, absent: [] };
  const { recipes, expected, absent } = plan;
  const need = (name: string, shape: number[]): string => {
    expected.set(name, shape);
    return name;
  };
  recipes.set('patch.weight', { kind: 'copy', source: need(`${e.patch}.weight`, [d, 3, p, p]) });
  if (c.patchBias) recipes.set('patch.bias', { kind: 'copy', source: need(`${e.patch}.bias`, [d]) });
  if (c.classToken) {
    if (e.cls) recipes.set('cls', { kind: 'copy', source: need(e.cls.name, e.cls.flat ? [d] : [1, 1, d]) });
    else absent.push('a class token');
  }
  if (c.registers > 0) {
    if (e.reg) recipes.set('reg', { kind: 'reg', source: need(e.reg, [1, c.registers, d]) });
    else absent.push('register tokens');
  }
  recipes.set('pos', { kind: 'pos', source: e.pos.name });
  if (c.lnPre) {
    if (e.lnPre) {
      recipes.set('ln_pre.weight', { kind: 'copy', source: need(`${e.lnPre}.weight`, [d]) });
      recipes.set('ln_pre.bias', { kind: 'copy', source: need(`${e.lnPre}.bias`, [d]) });
    } else {
      absent.push('ln_pre');
    }
  }
  for (let i = 0; i < c.depth; i++) blockRecipes(plan, scheme.block(naming.prefix, i), i, d, m, c.layerScale);
  if (c.layerScale && !scheme.block(naming.prefix, 0).ls1) absent.push('LayerScale');
  return plan;
}

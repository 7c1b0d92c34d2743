// timm's Vision Transformer architectures that losa builds, by name, as timm's
// models/vision_transformer.py defines them (its `vit_*` entries' model_args; every key not
// given takes timm's VisionTransformer default: mlp_ratio 4, class token, qkv bias, no pre-norm,
// no LayerScale, no registers, GELU, LayerNorm eps 1e-6). The plain, _clip_, _clip_quickgelu_,
// _dinov2, _reg4_dinov2 and _siglip_ families, tiny to gigantic and so400m.

export interface TimmArch {
  patch: number;
  width: number;
  depth: number;
  heads: number;
  /** MLP hidden width = floor(width × mlpRatio), as timm computes int(dim * mlp_ratio). Default 4. */
  mlpRatio?: number;
  /** A LayerNorm after the embeddings (norm_pre); timm then drops the patch embedding's bias. */
  preNorm?: boolean;
  /** LayerNorm eps (CLIP towers: 1e-5); default 1e-6. */
  eps?: number;
  /** timm's act_layer name; default 'gelu'. */
  act?: 'gelu' | 'gelu_tanh' | 'quick_gelu';
  /** LayerScale initial value: LayerScale is on when set. */
  initValues?: number;
  regTokens?: number;
  /** The position embedding covers the patches only (class and register tokens have none). */
  noEmbedClass?: boolean;
  classToken?: boolean;
  /** 'map': an attention-pool head (SigLIP), which the features do not use. */
  globalPool?: string;
  /** Why losa cannot build it, when it cannot. */
  unsupported?: string;
}

export const TIMM_ARCHS: Readonly<Record<string, TimmArch>> = {
  vit_tiny_patch16_224: { patch: 16, width: 192, depth: 12, heads: 3 },
  vit_tiny_patch16_384: { patch: 16, width: 192, depth: 12, heads: 3 },
  vit_small_patch32_224: { patch: 32, width: 384, depth: 12, heads: 6 },
  vit_small_patch32_384: { patch: 32, width: 384, depth: 12, heads: 6 },
  vit_small_patch16_224: { patch: 16, width: 384, depth: 12, heads: 6 },
  vit_small_patch16_384: { patch: 16, width: 384, depth: 12, heads: 6 },
  vit_small_patch8_224: { patch: 8, width: 384, depth: 12, heads: 6 },
  vit_base_patch32_224: { patch: 32, width: 768, depth: 12, heads: 12 },
  vit_base_patch32_384: { patch: 32, width: 768, depth: 12, heads: 12 },
  vit_base_patch16_224: { patch: 16, width: 768, depth: 12, heads: 12 },
  vit_base_patch16_384: { patch: 16, width: 768, depth: 12, heads: 12 },
  vit_base_patch8_224: { patch: 8, width: 768, depth: 12, heads: 12 },
  vit_large_patch32_224: { patch: 32, width: 1024, depth: 24, heads: 16 },
  vit_large_patch32_384: { patch: 32, width: 1024, depth: 24, heads: 16 },
  vit_large_patch16_224: { patch: 16, width: 1024, depth: 24, heads: 16 },
  vit_large_patch16_384: { patch: 16, width: 1024, depth: 24, heads: 16 },
  vit_large_patch14_224: { patch: 14, width: 1024, depth: 24, heads: 16 },
  vit_huge_patch14_224: { patch: 14, width: 1280, depth: 32, heads: 16 },
  vit_giant_patch14_224: { patch: 14, width: 1408, depth: 40, heads: 16, mlpRatio: 48/11 },
  vit_gigantic_patch14_224: { patch: 14, width: 1664, depth: 48, heads: 16, mlpRatio: 64/13 },
  vit_base_patch32_clip_224: { patch: 32, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_base_patch32_clip_256: { patch: 32, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_base_patch32_clip_384: { patch: 32, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_base_patch32_clip_448: { patch: 32, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_base_patch16_clip_224: { patch: 16, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_base_patch16_clip_384: { patch: 16, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5 },
  vit_large_patch14_clip_224: { patch: 14, width: 1024, depth: 24, heads: 16, preNorm: true, eps: 1e-5 },
  vit_large_patch14_clip_336: { patch: 14, width: 1024, depth: 24, heads: 16, preNorm: true, eps: 1e-5 },
  vit_huge_patch14_clip_224: { patch: 14, width: 1280, depth: 32, heads: 16, preNorm: true, eps: 1e-5 },
  vit_huge_patch14_clip_336: { patch: 14, width: 1280, depth: 32, heads: 16, preNorm: true, eps: 1e-5 },
  vit_huge_patch14_clip_378: { patch: 14, width: 1280, depth: 32, heads: 16, preNorm: true, eps: 1e-5 },
  vit_giant_patch14_clip_224: { patch: 14, width: 1408, depth: 40, heads: 16, mlpRatio: 48/11, preNorm: true, eps: 1e-5 },
  vit_gigantic_patch14_clip_224: { patch: 14, width: 1664, depth: 48, heads: 16, mlpRatio: 64/13, preNorm: true, eps: 1e-5 },
  vit_gigantic_patch14_clip_378: { patch: 14, width: 1664, depth: 48, heads: 16, mlpRatio: 64/13, preNorm: true, eps: 1e-5 },
  vit_base_patch32_clip_quickgelu_224: { patch: 32, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_base_patch16_clip_quickgelu_224: { patch: 16, width: 768, depth: 12, heads: 12, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_large_patch14_clip_quickgelu_224: { patch: 14, width: 1024, depth: 24, heads: 16, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_large_patch14_clip_quickgelu_336: { patch: 14, width: 1024, depth: 24, heads: 16, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_huge_patch14_clip_quickgelu_224: { patch: 14, width: 1280, depth: 32, heads: 16, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_huge_patch14_clip_quickgelu_378: { patch: 14, width: 1280, depth: 32, heads: 16, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_gigantic_patch14_clip_quickgelu_224: { patch: 14, width: 1664, depth: 48, heads: 16, mlpRatio: 64/13, preNorm: true, eps: 1e-5, act: 'quick_gelu' },
  vit_small_patch14_dinov2: { patch: 14, width: 384, depth: 12, heads: 6, initValues: 1e-5 },
  vit_base_patch14_dinov2: { patch: 14, width: 768, depth: 12, heads: 12, initValues: 1e-5 },
  vit_large_patch14_dinov2: { patch: 14, width: 1024, depth: 24, heads: 16, initValues: 1e-5 },
  vit_giant_patch14_dinov2: { patch: 14, width: 1536, depth: 40, heads: 24, mlpRatio: 2.66667*2, initValues: 1e-5, unsupported: 'a SwiGLU MLP' },
  vit_small_patch14_reg4_dinov2: { patch: 14, width: 384, depth: 12, heads: 6, initValues: 1e-5, regTokens: 4, noEmbedClass: true },
  vit_base_patch14_reg4_dinov2: { patch: 14, width: 768, depth: 12, heads: 12, initValues: 1e-5, regTokens: 4, noEmbedClass: true },
  vit_large_patch14_reg4_dinov2: { patch: 14, width: 1024, depth: 24, heads: 16, initValues: 1e-5, regTokens: 4, noEmbedClass: true },
  vit_giant_patch14_reg4_dinov2: { patch: 14, width: 1536, depth: 40, heads: 24, mlpRatio: 2.66667*2, initValues: 1e-5, regTokens: 4, noEmbedClass: true, unsupported: 'a SwiGLU MLP' },
  vit_base_patch32_siglip_256: { patch: 32, width: 768, depth: 12, heads: 12, act: 'gelu_tanh', classToken: false, globalPool: 'map' },
  vit_base_patch16_siglip_224: { patch: 16, width: 768, depth: 12, heads: 12, classToken: false, globalPool: 'map' },
  vit_base_patch16_siglip_256: { patch: 16, width: 768, depth: 12, heads: 12, classToken: false, globalPool: 'map' },
  vit_base_patch16_siglip_384: { patch: 16, width: 768, depth: 12, heads: 12, classToken: false, globalPool: 'map' },
  vit_base_patch16_siglip_512: { patch: 16, width: 768, depth: 12, heads: 12, classToken: false, globalPool: 'map' },
  vit_large_patch16_siglip_256: { patch: 16, width: 1024, depth: 24, heads: 16, classToken: false, globalPool: 'map' },
  vit_large_patch16_siglip_384: { patch: 16, width: 1024, depth: 24, heads: 16, classToken: false, globalPool: 'map' },
  vit_large_patch16_siglip_512: { patch: 16, width: 1024, depth: 24, heads: 16, act: 'gelu_tanh', classToken: false, globalPool: 'map' },
  vit_so400m_patch14_siglip_224: { patch: 14, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, classToken: false, globalPool: 'map' },
  vit_so400m_patch14_siglip_378: { patch: 14, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, classToken: false, globalPool: 'map' },
  vit_so400m_patch14_siglip_384: { patch: 14, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, classToken: false, globalPool: 'map' },
  vit_so400m_patch16_siglip_256: { patch: 16, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, act: 'gelu_tanh', classToken: false, globalPool: 'map' },
  vit_so400m_patch16_siglip_384: { patch: 16, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, act: 'gelu_tanh', classToken: false, globalPool: 'map' },
  vit_so400m_patch16_siglip_512: { patch: 16, width: 1152, depth: 27, heads: 16, mlpRatio: 3.7362, act: 'gelu_tanh', classToken: false, globalPool: 'map' },
};

/** The family an architecture belongs to, from its name. */
export function timmFamily(arch: string): 'clip' | 'dinov2' | 'siglip' | 'vit' {
  if (arch.includes('_clip_')) return 'clip';
  if (arch.includes('dinov2')) return 'dinov2';
  if (arch.includes('_siglip_')) return 'siglip';
  return 'vit';
}

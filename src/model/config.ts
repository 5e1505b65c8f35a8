/** GPT-2 hyper-parameters, read from a Hugging Face config.json. */
export interface GPT2Config {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly nPositions: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** `n_inner`, or 4 * nEmbd when null. */
  readonly nInner: number;
  readonly layerNormEpsilon: number;
  readonly activation: string;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  /** `torch_dtype` from config.json, if present. */
  readonly torchDtype: string | null;
}

// parseConfig(json, file) is implemented below by the loader work.

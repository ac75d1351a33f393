// Types for switchyard-client (index.js).

export interface ClientOptions {
  apiKey?: string | null;
  /** Per request, milliseconds (default 60000). */
  timeoutMs?: number;
  /** Retries of 503 answers and connection failures (default 5). */
  maxRetries?: number;
  /** Total time for one call including retries, milliseconds (default 30000). */
  retryBudgetMs?: number;
}

export interface ImageItem { id?: string; images: { data: string; format?: 'jpeg' | 'png' | 'webp' }[] }
/** A text, image bytes (CLIP/SigLIP models), a text item or an image item. */
export type ItemLike = string | Uint8Array | { id?: string; text: string } | ImageItem;
/** An image item (base64 of the file's bytes, SIE's shape) for encode and score. */
export function imageItem(bytes: Uint8Array, format?: 'jpeg' | 'png' | 'webp', id?: string): ImageItem;

export interface EncodeParams {
  output_types?: Array<'dense' | 'sparse' | 'multivector'>;
  normalize?: boolean;
  truncate?: boolean;
  is_query?: boolean;
  instruction?: string;
  [extra: string]: unknown;
}

export interface SparseVector { indices: number[]; values: number[]; tokens?: string[] }
export interface MultiVector { token_dims: number; num_tokens: number; values: number[][] }
export interface Timing { queue_ms: number; tokenization_ms: number; /** old name of tokenization_ms */ tokenize_ms: number; inference_ms: number; total_ms: number }

export interface EncodedItem { id: string; dense?: number[]; sparse?: SparseVector; multivector?: MultiVector }
export interface EncodeResult { model: string; items: EncodedItem[]; dense: Array<number[] | undefined>; timing: Timing; raw: unknown }

export interface Score { item_id: string; score: number; rank: number }
export interface ScoreResult { model: string; scores: Score[]; raw: unknown }
export interface RerankResult { index: number; relevanceScore: number; document?: string }

export interface Entity { text: string; label: string; score: number; start: number; end: number }
export interface ExtractResult { model: string; items: Array<{ id: string; entities: Entity[] }>; raw: unknown }

export interface ModelInfo {
  id: string;
  state: 'available' | 'loading' | 'loaded' | 'failed';
  tasks: string[];
  bytes: number;
  [extra: string]: unknown;
}

export interface ChatMessage { role: 'system' | 'user' | 'assistant' | 'tool'; content: string; [extra: string]: unknown }

export class SwitchyardError extends Error {
  code: string;
  status: number;
  requestId: string | null;
  retryAfter: number | null;
  detail: string;
}
export class InvalidInputError extends SwitchyardError {}
export class UnauthorizedError extends SwitchyardError {}
export class ModelNotFoundError extends SwitchyardError {}
export class UnavailableError extends SwitchyardError {}
export class BudgetExhaustedError extends SwitchyardError {}
export class UpstreamError extends SwitchyardError {}
export class ConnectionError extends SwitchyardError {}

export class Client {
  constructor(baseUrl?: string, options?: ClientOptions);
  models(): Promise<ModelInfo[]>;
  model(id: string): Promise<ModelInfo>;
  health(): Promise<boolean>;
  encode(model: string, texts: ItemLike | ItemLike[], params?: EncodeParams): Promise<EncodeResult>;
  score(model: string, query: string | { text: string }, items: ItemLike | ItemLike[], params?: Record<string, unknown>): Promise<ScoreResult>;
  rerank(model: string, query: string, documents: string[], options?: { topN?: number; returnDocuments?: boolean }): Promise<RerankResult[]>;
  extract(model: string, items: ItemLike | ItemLike[], labels?: string[], params?: Record<string, unknown>): Promise<ExtractResult>;
  embeddings(model: string, input: string | string[]): Promise<number[][]>;
  chat(route: string, messages: ChatMessage[], options?: { stream?: false; [param: string]: unknown }): Promise<Record<string, unknown>>;
  chat(route: string, messages: ChatMessage[], options: { stream: true; [param: string]: unknown }): Promise<AsyncIterable<Record<string, unknown>>>;
}

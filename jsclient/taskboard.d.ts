// Type declarations of @taskboard/client (taskboard.js).

export declare const VERSION: string;

/** A task row (snake_case, as the server sends it). */
export interface Task {
  id: string;
  list_id: string;
  board_id: string;
  title: string;
  description: string | null;
  assignee_id: string | null;
  position: number;
  version: number;
  created_at: string;
  updated_at: string;
}

/** A list row. */
export interface List {
  id: string;
  board_id: string;
  name: string;
  position: number;
  version: number;
}

/** A board row; seq is the board's last event's seq. */
export interface Board {
  id: string;
  name: string;
  created_at: string;
  seq: number;
}

export type Role = 'owner' | 'editor' | 'viewer';

export interface User {
  id: string;
  name: string;
  email: string;
}

/** A member of a snapshot: the user with their role. */
export interface MemberUser extends User {
  role: Role;
}

export interface Member {
  board_id: string;
  user_id: string;
  role: Role;
}

/** GET /boards/{boardId}: the board consistent as of seq. */
export interface Snapshot {
  board: Board;
  lists: List[];
  tasks: Task[];
  members: MemberUser[];
  seq: number;
}

export interface PresenceEntry {
  id: string;
  name: string;
  connections: number;
  since: string;
}

export type LoggedType =
  | 'task_created' | 'task_updated' | 'task_moved' | 'task_deleted'
  | 'list_created' | 'list_updated' | 'list_moved' | 'list_deleted'
  | 'board_updated' | 'board_deleted' | 'board_imported'
  | 'member_added' | 'member_updated' | 'member_removed';

export type EphemeralType = 'user_joined' | 'user_left' | 'user_typing' | 'user_stopped_typing';

/** A logged event: the flat envelope of docs/API.md. */
export interface LoggedEvent {
  type: LoggedType;
  seq: number;
  boardId: string;
  actorId: string | null;
  at: string;
  /** The Idempotency-Key of the write that made it. */
  mutationId: string | null;
  /** Set by the client: the event of one of this client's own writes. */
  own: boolean;
  task?: Task;
  taskId?: string;
  taskIds?: string[];
  list?: List;
  board?: Board;
  from?: { list_id?: string; position: number };
  userId?: string;
  user?: User;
  role?: Role;
  counts?: { lists: number; tasks: number; members: number };
  [field: string]: unknown;
}

/** An ephemeral event: never logged, no seq. */
export interface EphemeralEvent {
  type: EphemeralType;
  boardId: string;
  taskId?: string;
  user?: { id: string; name: string };
  own: boolean;
  [field: string]: unknown;
}

export type TaskboardEvent = LoggedEvent | EphemeralEvent;

export type ResetReason = 'history_truncated' | 'ahead' | 'access_revoked' | 'board_deleted' | 'not_found' | 'gap';

/** What onReset receives. */
export interface ResetInfo {
  type: 'reset';
  boardId: string;
  reason: ResetReason;
  /** The seq the server named. */
  seq: number;
  /** true: the board is no longer followed (access_revoked, board_deleted, not_found). */
  stopped: boolean;
  /** The fresh snapshot the board goes on from (when not stopped). */
  snapshot: Snapshot | null;
}

export type Transport = 'ws' | 'sse' | 'poll';

export type FollowState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'idle' | 'closed';

export interface StateInfo {
  state: FollowState;
  /** The transport when live, else "". */
  transport: Transport | '';
  /** reconnecting: when the next attempt starts (ms since the epoch) and the wait in ms. */
  retryAt?: number;
  delay?: number;
}

export interface FollowOptions {
  /** Fetch each board's snapshot first (and of boards found later), delivered to onSnapshot. */
  snapshots?: boolean;
  /** Resume points: {boardId: seq}; events after them are delivered. */
  after?: Record<string, number>;
  /** The transports to try, in order. Default ['ws','sse','poll'] (for '*' too: each follows the boards the user gets). */
  transports?: Transport[];
  /** false: onPresence gets only what the WebSocket sends; no GET /boards/{id}/presence on SSE and long polling. */
  fetchPresence?: boolean;
  /**
   * The board the user views, where they count as present (WebSocket and SSE; long polling has
   * none); null: present nowhere. Default: the board of a one-board list, else null.
   */
  presence?: string | null;
  /** Seconds a long poll is held (1..60, default 25). */
  pollTimeout?: number;
  onSnapshot?(boardId: string, snapshot: Snapshot): void;
  onEvent?(event: TaskboardEvent): void;
  onPresence?(boardId: string, users: PresenceEntry[]): void;
  onReset?(reset: ResetInfo): void;
  onFollowing?(info: { boardId: string; seq: number }): void;
  onLimit?(info: { boardId: string }): void;
  onState?(state: StateInfo): void;
  onError?(error: TaskboardError | Error): void;
}

export declare class Follower {
  readonly client: TaskboardClient;
  readonly all: boolean;
  readonly state: FollowState;
  readonly transport: Transport | '';
  /** The last applied seq of each board. */
  readonly seqs: Record<string, number>;
  readonly boardIds: string[];
  /** The board the user counts as present on, or null. */
  readonly presence: string | null;
  /**
   * Moves the user's presence to boardId (null: nowhere), on the same connection's boards, losing
   * and repeating no event: a WebSocket joins the two boards again, an SSE stream reconnects.
   */
  setPresence(boardId: string | null): void;
  /** Sends typing over the WebSocket; false when not connected by one. */
  typing(boardId: string, taskId: string): boolean;
  stopTyping(boardId: string, taskId: string): boolean;
  /** Follows one more board on the same connection, after seq after (default: from now). */
  add(boardId: string, after?: number | null): void;
  /** Stops following a board. */
  remove(boardId: string): void;
  /** Drops the connection and connects again at once. */
  reconnect(): void;
  close(): void;
}

export interface FieldError {
  path: string[];
  message: string;
}

export declare class TaskboardError extends Error {
  constructor(status: number, message: string, init?: {
    body?: unknown; fields?: FieldError[]; reason?: string | null; seq?: number | null; retryAfter?: number | null; cause?: unknown;
  });
  /** HTTP status; 0 when the server was not reached. */
  readonly status: number;
  readonly body: unknown;
  readonly fields: FieldError[];
  /** For 410: why the resume point needs a reset. */
  readonly reason: string | null;
  readonly seq: number | null;
  readonly retryAfter: number | null;
  readonly isNetwork: boolean;
  readonly isReset: boolean;
  readonly isUnauthorized: boolean;
  readonly isForbidden: boolean;
  readonly isNotFound: boolean;
  readonly isConflict: boolean;
  readonly isPreconditionFailed: boolean;
  readonly isValidation: boolean;
  readonly isRateLimited: boolean;
}

export interface ClientOptions {
  /** The API's base URL; defaults to the base the module was served under. */
  baseURL?: string | URL;
  /** A bearer token; without one, the browser's session cookie. */
  token?: string;
  credentials?: RequestCredentials;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket | null;
  newKey?: () => string;
  /** Backoff of reconnects and held writes, ms (1000 to 30000). */
  minDelay?: number;
  maxDelay?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** GET retries on network failures. */
  retries?: number;
  /** Another bearer token for this request (the admin token for admin routes). */
  token?: string;
}

export interface WriteOptions {
  /** The Idempotency-Key (default: generated). */
  key?: string;
  /** Sent as If-Match: a row changed since is a 412. */
  version?: number;
  headers?: Record<string, string>;
  idempotent?: boolean;
}

export interface Status {
  online: boolean;
  pending: number;
}

export interface Page<T> {
  data: T[];
  seq: number;
  more: boolean;
  timeout?: boolean;
}

export interface MultiPage {
  data: (LoggedEvent | ResetInfo)[];
  cursor: string;
  more: boolean;
  timeout?: boolean;
}

export interface Token {
  id: string;
  name: string;
  prefix: string;
  scope: 'read' | 'write';
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  /** Only in the answer of createToken. */
  token?: string;
}

export interface Webhook {
  id: string;
  board_id: string;
  url: string;
  events: LoggedType[] | null;
  description: string;
  status: 'active' | 'paused' | 'disabled';
  created_at: string;
  /** Only in the answer of createWebhook. */
  secret?: string;
}

export interface WebhookAttempt {
  seq: number;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: string;
}

export interface ExportDocument {
  format: 'taskboard/1';
  exported_at: string;
  seq: number;
  board: Board;
  lists: List[];
  tasks: Task[];
  members: MemberUser[];
}

export interface Connections {
  total: number;
  sse: number;
  websocket: number;
  longPoll: number;
  byBoard: Record<string, number>;
}

export declare class TaskboardClient {
  constructor(options?: ClientOptions);
  readonly baseURL: URL;
  token: string | null;
  /** Writes not yet answered, held ones included. */
  readonly pending: number;
  readonly pendingWrites: { method: string; path: string; key: string | null }[];
  readonly online: boolean;
  on(type: 'status', fn: (s: Status) => void): () => void;
  on(type: 'rejected', fn: (r: { error: TaskboardError; method: string; path: string; key: string | null }) => void): () => void;
  on(type: 'unauthorized', fn: () => void): () => void;
  isOwn(mutationId: string | null | undefined): boolean;
  url(path: string): URL;
  request(method: string, path: string, options?: RequestOptions & { body?: unknown; headers?: Record<string, string>; auth?: boolean; raw?: boolean }):
    Promise<{ status: number; body: any; etag: string | null; headers: Headers }>;
  write<T = unknown>(method: string, path: string, body?: unknown, options?: WriteOptions): Promise<T>;
  retryNow(): void;

  health(): Promise<{ status: string }>;
  ready(): Promise<{ status: string }>;
  openapi(): Promise<any>;
  me(options?: RequestOptions): Promise<User>;
  boards(options?: RequestOptions): Promise<Board[]>;
  createBoard(name: string, options?: WriteOptions): Promise<Board>;
  snapshot(boardId: string, options?: RequestOptions & { etag?: string }): Promise<Snapshot | null>;
  renameBoard(boardId: string, name: string, options?: WriteOptions): Promise<Board>;
  deleteBoard(boardId: string, options?: WriteOptions): Promise<null>;
  tasks(boardId: string, options?: RequestOptions): Promise<Task[]>;
  addMember(boardId: string, member: { userId?: string; email?: string; role?: Role }, options?: WriteOptions): Promise<Member>;
  setRole(boardId: string, userId: string, role: Role, options?: WriteOptions): Promise<Member>;
  removeMember(boardId: string, userId: string, options?: WriteOptions): Promise<null>;
  presence(boardId: string, options?: RequestOptions): Promise<PresenceEntry[]>;
  createList(boardId: string, name: string, position?: number | null, options?: WriteOptions): Promise<List>;
  renameList(listId: string, name: string, options?: WriteOptions): Promise<List>;
  moveList(listId: string, position: number, options?: WriteOptions): Promise<List>;
  deleteList(listId: string, options?: WriteOptions): Promise<null>;
  createTask(task: { title: string; listId: string; description?: string | null; assigneeId?: string | null; position?: number }, options?: WriteOptions): Promise<Task>;
  task(taskId: string, options?: RequestOptions): Promise<Task>;
  updateTask(taskId: string, patch: { title?: string; description?: string | null; assigneeId?: string | null }, options?: WriteOptions): Promise<Task>;
  moveTask(taskId: string, listId: string, position: number, options?: WriteOptions): Promise<Task>;
  deleteTask(taskId: string, options?: WriteOptions): Promise<null>;
  updates(boardId: string, query: RequestOptions & { after: number; limit?: number }): Promise<Page<LoggedEvent>>;
  updates(boardId: string, query?: RequestOptions & { since?: Date | string }): Promise<{ data: Task[]; deleted: string[]; timestamp: string }>;
  poll(boardId: string, query?: RequestOptions & { after?: number; timeout?: number }): Promise<Page<LoggedEvent>>;
  pollBoards(boards: string[] | '*', query?: RequestOptions & { after?: string | Record<string, number>; timeout?: number }): Promise<MultiPage>;
  createTicket(options?: RequestOptions): Promise<{ ticket: string; expires_at: string }>;
  tokens(options?: RequestOptions): Promise<Token[]>;
  createToken(token: { name: string; scope?: 'read' | 'write'; expiresIn?: number }, options?: RequestOptions): Promise<Token>;
  revokeToken(tokenId: string, options?: RequestOptions): Promise<void>;
  webhooks(boardId: string, options?: RequestOptions): Promise<Webhook[]>;
  createWebhook(boardId: string, webhook: { url: string; events?: LoggedType[]; description?: string }, options?: WriteOptions): Promise<Webhook>;
  webhook(id: string, options?: RequestOptions): Promise<Webhook>;
  updateWebhook(id: string, patch: { url?: string; events?: LoggedType[] | null; description?: string; status?: 'active' | 'paused' }, options?: WriteOptions): Promise<Webhook>;
  deleteWebhook(id: string, options?: WriteOptions): Promise<null>;
  replayWebhook(id: string, after: number, options?: WriteOptions): Promise<Webhook>;
  webhookDeliveries(id: string, options?: RequestOptions & { limit?: number }): Promise<WebhookAttempt[]>;
  exportBoard(boardId: string, options?: RequestOptions): Promise<ExportDocument>;
  importBoard(document: ExportDocument | object | string, options?: WriteOptions): Promise<Snapshot>;
  adminConnections(options: RequestOptions & { token: string }): Promise<Connections>;
  metrics(options: RequestOptions & { token: string }): Promise<string>;
  signIn(token: string): Promise<User>;
  signInDemo(userId: string): Promise<User>;
  signOut(): Promise<void>;

  /** Follows boards (ids, or '*' for all of the user's) on one connection. */
  follow(boards: string[] | '*', options?: FollowOptions): Follower;
  /** Ends every follower; held writes are rejected. */
  close(): void;
}

export declare function newKey(): string;
export declare function backoff(attempt: number, min?: number, max?: number): number;
export declare function parseCursor(cursor: string): Record<string, number>;
export declare function formatCursor(seqs: Record<string, number>): string;

export default TaskboardClient;

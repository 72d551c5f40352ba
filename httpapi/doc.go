// Package httpapi serves a taskboard store over HTTP, as docs/API.md
// specifies: REST routes for boards, members, lists and tasks, and four
// real-time transports fed by the store's event feed.
//
// New returns an http.Handler; mount it at the root of a server or under a
// prefix with http.StripPrefix. Close it before the store: it ends the
// long-lived streams, which http.Server.Shutdown would otherwise wait for
// forever (and ignores for the connections streams take over).
//
// The web page (package web) is served beside the API, under the same
// prefix; it finds the API relative to its own address:
//
//	board := http.NewServeMux()
//	board.Handle("GET /{$}", web.Handler())
//	board.Handle("GET /static/", web.Handler())
//	board.Handle("/", httpapi.New(store, opts))
//	mux.Handle("/board/", http.StripPrefix("/board", board))
//
// The program in examples/embed does this for a service with users of its
// own, and forwards a board's events to a chat, resuming after a restart.
//
// # Routes
//
//	GET    /health                                 liveness (public)
//	GET    /ready                                  database and listener reachable (public)
//	GET    /openapi.json                           the OpenAPI 3.1 document (public)
//	GET    /sessions                               who is signed in, and the sign-ins offered (public)
//	POST   /sessions, DELETE /sessions             token → session cookie; sign out (*)
//	POST   /sessions/demo                          one-click demo sign-in (demo databases only) (*)
//	POST   /realtime/tickets                       single-use 60 s ticket for ?ticket= (*)
//	GET    /users/me
//	GET    /boards, POST /boards
//	GET    /boards/{boardId}                       snapshot {board, lists, tasks, members, seq}; ETag = seq
//	PATCH  /boards/{boardId}, DELETE /boards/{boardId}
//	POST   /boards/{boardId}/members, PATCH and DELETE /boards/{boardId}/members/{userId}
//	POST   /boards/{boardId}/lists
//	PATCH  /lists/{id}, PATCH /lists/{id}/move, DELETE /lists/{id}
//	GET    /boards/{boardId}/tasks                 the course's route; ETag = seq
//	POST   /tasks
//	GET    /tasks/{id}, PATCH /tasks/{id}, PATCH /tasks/{id}/move, DELETE /tasks/{id}
//	GET    /boards/{boardId}/updates               short polling: ?since= or ?after=&limit=
//	GET    /boards/{boardId}/poll                  long polling: ?after=&timeout=
//	GET    /boards/{boardId}/events                Server-Sent Events: Last-Event-ID, ?after=, ?ticket=
//	GET    /ws                                     WebSocket: join, leave, typing, stop_typing, ping
//	GET    /boards/{boardId}/presence
//	GET    /admin/connections, GET /metrics        with the admin token
//
// (*) Only with the built-in authenticator (see Authentication below).
//
// # Events
//
// Every change to a board is one logged event with the board's next seq:
//
//	{"type":"task_moved","seq":12,"boardId":"board-1","actorId":"user-alice",
//	 "at":"2026-11-27T14:00:00Z","mutationId":null,"task":{...},"from":{"list_id":"list-todo","position":0}}
//
// Logged types are task_created, task_updated, task_moved, task_deleted,
// list_created, list_updated, list_moved, list_deleted, board_updated,
// board_deleted, member_added, member_updated, member_removed and
// board_imported (the first event of an imported board). Ephemeral events
// (user_joined, user_left, user_typing, user_stopped_typing, presence) have
// no seq and are never logged. Every transport delivers each logged event
// once and in seq order, and resumes after the last seq it delivered; a
// resume point that cannot be served is answered with a reset naming its
// reason (history_truncated, ahead, access_revoked, board_deleted).
//
// # Authentication
//
// The built-in authenticator (Builtin, the default) reads a bearer token,
// else the session cookie, else (on the streaming routes only) a ?ticket=,
// all kept by package auth in the store's database. Writes and WebSocket
// upgrades authenticated by a credential the browser sends on its own
// (Identity.SentByBrowser, such as the cookie) must come from an allowed
// origin.
//
// An embedding program can supply its own Authenticator (Options.Authenticator),
// alone or before the built-in one with FirstOf. The routes that make the
// built-in credentials (POST and DELETE /sessions, POST /sessions/demo,
// POST /realtime/tickets) are served only when the built-in authenticator
// is configured, alone or within FirstOf; with a custom authenticator alone
// they are 404. With FirstOf(custom, NewBuiltin(creds)), a user of the
// custom authenticator can get a ticket for the streaming routes, and the
// built-in one redeems it.
//
// The users of identities must exist in the store (taskboard.Board.CreateUser
// with the program's own IDs), or be created on their first request with
// Options.ProvisionUsers; otherwise their requests are answered 401.
//
// A Handler deletes expired idempotency records and, with the built-in
// authenticator, ended sessions and expired tickets every
// Options.MaintenanceInterval, until it is closed.
//
// # Concurrency
//
// A Handler is safe for concurrent use. Each stream is a consumer of the
// store's feed; a client that cannot keep up is dropped (the SSE stream
// ends, the WebSocket closes with 4008) and resumes without loss.
//
// Over HTTP/1.1 an SSE stream or a WebSocket takes its connection over
// from net/http and holds one goroutine while its board is quiet: a reader
// that notices the client leaving (SSE) or reads its messages (WebSocket,
// framed with github.com/gobwas/ws). Events are written by the feed's
// fan-out itself, through the subscription's Ready function and a
// non-blocking write to the socket; only bytes the socket does not take at
// once wait for a goroutine of the connection's, started for them.
// Heartbeats and pings are timers. Where a connection cannot be taken over
// (HTTP/2, a ResponseWriter without Hijack) an SSE stream is served by its
// handler's goroutine instead. A many-board SSE stream (GET /events?boards=)
// is always served by its handler's goroutine, which reads its boards'
// subscriptions; over HTTP/1.1 it too takes its connection over, to write
// each batch of frames as one chunk with one write, and holds a second
// goroutine, its reader.
package httpapi

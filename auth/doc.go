// Package auth keeps the credentials of the taskboard HTTP API in the
// store's database: bearer tokens for API clients, browser sessions made
// from a token (or from a demo sign-in), and single-use tickets for
// clients that can send neither a header nor a cookie.
//
// Its tables (tokens, sessions, tickets) are part of the store's schema:
// taskboard.Open and taskboard.Board.Migrate create them with the rest, so
// a Store needs nothing but a Board. Only hashes of the secrets are stored.
//
// Package httpapi's built-in authenticator (httpapi.NewBuiltin) reads these
// credentials; the taskboard command's token subcommands manage them.
//
// # Caching and revocation
//
// A Store remembers successful token and session checks for a short time
// (Options.CacheTTL), so that a busy client does not cost a query per
// request. Revocations through the same Store take effect at once; those
// made elsewhere (another Store, another process or instance) within
// CacheTTL. A program that serves the API and revokes credentials itself
// gives the Store it revokes through to httpapi.NewBuiltin.
//
// # Expiry
//
// Ended and expired sessions and expired tickets stay in the database until
// Maintain deletes them. An httpapi.Handler with the built-in authenticator
// calls it periodically; a program that uses a Store otherwise calls it
// itself, say once an hour.
package auth

package seam

import "context"

// Push asks Board.Subscribe for push delivery: the subscription then has
// no channel and no goroutine of its own. Its reader is told by Ready when
// the subscription may have news, and reads it through Reader. It is
// passed in the context given to Subscribe (see WithPush); E is the root
// package's Event.
type Push[E any] struct {
	// ID names the subscription: an ephemeral event marked with it (see
	// MarkOrigin) is not delivered to it. Empty asks Subscribe for a new
	// ID, unique across instances, which it stores here.
	ID string
	// Ready, when set, is called each time the subscription may have
	// something new for its reader: events were queued for it, or it
	// ended. It lets a reader go without a goroutine of its own while the
	// board is quiet: on Ready it takes what TryNext gives, and only when
	// Backlog reports events to read from the log does it need a goroutine
	// to call Next. Ready is called from the feed's goroutines, never with
	// a lock of the feed held, possibly concurrently with itself and with
	// the reader; it must not block. It may be called before Subscribe
	// returns: the goroutine that calls Subscribe is the reader until it
	// hands over.
	Ready func()
	// Reader is set by Subscribe: the reading side of the subscription.
	Reader Reader[E]
}

// Reader reads a push subscription's events: every logged event after the
// starting point, each once and in seq order, interleaved with ephemeral
// events, then the error that ended the subscription. Next and TryNext
// share the one reader: call them from one goroutine at a time. The
// subscription's Events channel is nil; Close ends it as usual.
type Reader[E any] interface {
	// Next returns the next event, waiting for one until ctx is done (then
	// it returns ctx's error and the subscription goes on). After the
	// subscription ends it returns the events still queued, then the error
	// that ended it.
	Next(ctx context.Context) (E, error)
	// TryNext returns the next event when it is at hand, without waiting
	// and without reading the log. When it is not, ok is false: then
	// either Backlog reports events that Next must read from the log, or
	// the subscription ended (Err says why), or nothing is pending and
	// Ready is called when something is.
	TryNext() (ev E, ok bool)
	// Backlog reports whether the next events must be read from the log,
	// which Next does and TryNext does not.
	Backlog() bool
	// Err returns the error that ended the subscription, or nil while it
	// runs; unlike Subscription.Err, as soon as it ended, whatever is
	// still queued for the reader.
	Err() error
	// Last returns the seq of the last logged event Next or TryNext
	// returned, or the starting point: the point to resume after.
	Last() int64
}

// pushKey is the context key of a *Push[E].
type pushKey[E any] struct{}

// WithPush returns a context carrying p, for Subscribe.
func WithPush[E any](ctx context.Context, p *Push[E]) context.Context {
	return context.WithValue(ctx, pushKey[E]{}, p)
}

// PushFrom returns the push request of ctx, or nil.
func PushFrom[E any](ctx context.Context) *Push[E] {
	p, _ := ctx.Value(pushKey[E]{}).(*Push[E])
	return p
}

// originMarker is the root package's func(ev E, origin string) E, set by
// SetOriginMarker.
var originMarker any

// SetOriginMarker sets how an event of type E is marked with the
// subscription that caused it. The root package calls it in its init.
func SetOriginMarker[E any](mark func(ev E, origin string) E) { originMarker = mark }

// MarkOrigin returns ev, an ephemeral event for Board.Broadcast, marked as
// caused by the subscription named origin (a Push's ID): that subscription
// does not receive it, on any instance. An empty origin marks nothing.
func MarkOrigin[E any](ev E, origin string) E {
	return originMarker.(func(E, string) E)(ev, origin)
}

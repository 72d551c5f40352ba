package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// newIdemStore returns an idempotency store over a demo database.
func newIdemStore(t *testing.T, dsn string) *idempotencyStore {
	t.Helper()
	store, err := taskboard.Open(context.Background(), dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { store.Close() })
	if ok, err := demo.Seed(context.Background(), store); err != nil || !ok {
		t.Fatalf("demo.Seed: got %v, %v; want true, nil", ok, err)
	}
	return newIdempotencyStore(store)
}

func TestIdempotencyStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, ctx := newIdemStore(t, dsn), t.Context()
		k := idempotencyKey{userID: demo.Alice, method: "POST", path: "/tasks", key: "k-1", requestHash: "h-1"}

		if stored, err := s.begin(ctx, k); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent(new key): got %v, %v; want nil, nil", stored, err)
		}
		if _, err := s.begin(ctx, k); !errors.Is(err, errIdempotencyInFlight) {
			t.Fatalf("BeginIdempotent while in flight: got %v, want ErrIdempotencyInFlight", err)
		}
		resp := storedResponse{status: 201, etag: `"1"`, body: []byte(`{"id":"t"}`)}
		if err := s.finish(ctx, k, resp); err != nil {
			t.Fatalf("FinishIdempotent: %v", err)
		}
		stored, err := s.begin(ctx, k)
		if err != nil || stored == nil || stored.status != 201 || string(stored.body) != `{"id":"t"}` || stored.etag != `"1"` {
			t.Fatalf("BeginIdempotent after Finish: got %+v, %v; want the stored 201 response", stored, err)
		}
		other := k
		other.requestHash = "h-2"
		if _, err := s.begin(ctx, other); !errors.Is(err, errIdempotencyMismatch) {
			t.Fatalf("BeginIdempotent with another body: got %v, want ErrIdempotencyMismatch", err)
		}
		// Abandoning a finished key keeps its response.
		if err := s.abandon(ctx, k); err != nil {
			t.Fatalf("AbandonIdempotent: %v", err)
		}
		if stored, err := s.begin(ctx, k); err != nil || stored == nil || stored.status != 201 {
			t.Fatalf("BeginIdempotent after abandoning a finished key: got %+v, %v; want the stored response", stored, err)
		}

		// Keys are scoped to the user, method and path.
		scoped := []func(k *idempotencyKey){
			func(k *idempotencyKey) { k.userID = demo.Bob },
			func(k *idempotencyKey) { k.method = "PATCH" },
			func(k *idempotencyKey) { k.path = "/tasks/t/move" },
		}
		for i, change := range scoped {
			k2 := k
			change(&k2)
			if stored, err := s.begin(ctx, k2); err != nil || stored != nil {
				t.Errorf("BeginIdempotent with scope change %d: got %v, %v; want nil, nil", i, stored, err)
			}
		}

		// Abandoning an unfinished key releases it.
		k3 := k
		k3.key = "k-3"
		if stored, err := s.begin(ctx, k3); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent(k-3): got %v, %v; want nil, nil", stored, err)
		}
		if err := s.abandon(ctx, k3); err != nil {
			t.Fatalf("AbandonIdempotent: %v", err)
		}
		k3.requestHash = "h-other"
		if stored, err := s.begin(ctx, k3); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent after AbandonIdempotent: got %v, %v; want nil, nil", stored, err)
		}
		// 4xx answers are kept like 2xx ones.
		if err := s.finish(ctx, k3, storedResponse{status: 400, body: []byte(`{"error":"x"}`)}); err != nil {
			t.Fatalf("FinishIdempotent: %v", err)
		}
		if stored, err := s.begin(ctx, k3); err != nil || stored == nil || stored.status != 400 || string(stored.body) != `{"error":"x"}` {
			t.Fatalf("BeginIdempotent after a 400: got %+v, %v; want the stored 400", stored, err)
		}
	})
}

// TestIdempotencyStoreNUL checks keys holding the NUL character, which
// neither database stores: begin refuses them as invalid, and finish and
// abandon, having nothing to do, succeed.
func TestIdempotencyStoreNUL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, ctx := newIdemStore(t, dsn), t.Context()
		for _, k := range []idempotencyKey{
			{userID: demo.Alice, method: "POST", path: "/tasks", key: "a\x00b", requestHash: "h"},
			{userID: demo.Alice, method: "PATCH", path: "/tasks/task-1\x00", key: "k", requestHash: "h"},
		} {
			var verr *taskboard.ValidationError
			if _, err := s.begin(ctx, k); !errors.As(err, &verr) || verr.Fields[0].Path[0] != "Idempotency-Key" {
				t.Errorf("begin(%q): got %v, want a validation error of Idempotency-Key", k, err)
			}
			if err := s.finish(ctx, k, storedResponse{status: 201}); err != nil {
				t.Errorf("finish(%q): %v", k, err)
			}
			if err := s.abandon(ctx, k); err != nil {
				t.Errorf("abandon(%q): %v", k, err)
			}
		}
	})
}

// TestIdempotencyStoreExpire checks that expire deletes the records older
// than idempotencyTTL, and that begin treats such a record as new.
func TestIdempotencyStoreExpire(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, ctx := newIdemStore(t, dsn), t.Context()
		db := seam.DB(s.store)
		old := idempotencyKey{userID: demo.Alice, method: "POST", path: "/tasks", key: "old", requestHash: "h"}
		young := old
		young.key = "young"
		for _, k := range []idempotencyKey{old, young} {
			if _, err := s.begin(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.finish(ctx, k, storedResponse{status: 201, body: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.NewUpdate().Model((*idempotencyRecord)(nil)).Set("created_at = ?", idemNow().Add(-idempotencyTTL-time.Minute)).
			Where("key = ?", old.key).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// An expired record is no answer any more: the key is claimed anew.
		other := old
		other.requestHash = "h-other"
		if stored, err := s.begin(ctx, other); err != nil || stored != nil {
			t.Fatalf("begin of an expired key: got %v, %v; want nil, nil", stored, err)
		}
		if _, err := db.NewUpdate().Model((*idempotencyRecord)(nil)).Set("created_at = ?", idemNow().Add(-idempotencyTTL-time.Minute)).
			Where("key = ?", old.key).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.expire(ctx); err != nil {
			t.Fatalf("expire: %v", err)
		}
		var keys []string
		if err := db.NewSelect().Model((*idempotencyRecord)(nil)).Column("key").Scan(ctx, &keys); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0] != young.key {
			t.Errorf("keys after expire: got %q, want only %q", keys, young.key)
		}
	})
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"strongroom/internal/store"
)

// Cluster membership, for request quotas that hold across a cluster.
//
// The quotas (internal/quota) are the service's rates, but every node keeps
// its own token buckets: without coordination, n nodes behind a load
// balancer would allow n times the configured rate. Sharing the buckets
// themselves in the database would cost a write per request. Instead each
// node publishes a heartbeat in the store (KindMeta, scope "nodes", id the
// node id, holding the wall-clock time it expires), counts the live
// heartbeats every HeartbeatEvery, and gives its limiter that count
// (quota.Limiter.SetNodes): each node allows 1/n of the rates, the cluster
// about the rates. It is approximate: right after a node joins, the others
// learn of it within HeartbeatEvery (until then the cluster may allow up to
// (n+1)/n of the rates); a node that dies without a word counts until its
// heartbeat expires (heartbeatTTL: the others allow less meanwhile); a node
// that stops cleanly removes its heartbeat. Like leases, heartbeats use the
// wall clock: nodes need synchronized clocks (NTP).
//
// Heartbeats run only when quotas are on: without them nothing needs the
// count, and a single embedded-store node need not write every few seconds.

const (
	nodesScope = "nodes"
	// DefaultHeartbeatEvery is how often a node renews its heartbeat and
	// recounts the live nodes.
	DefaultHeartbeatEvery = 2 * time.Second
	// heartbeatLives is how many periods a heartbeat outlives its writing.
	heartbeatLives = 3
	// heartbeatGC is how many periods past its expiry a dead node's
	// heartbeat is removed.
	heartbeatGC = 30
)

type heartbeatRecord struct {
	Expires int64 `json:"expires"` // unix nanoseconds, wall clock
}

// beat writes node's heartbeat, valid until now+ttl.
func beat(ctx context.Context, st store.Store, node string, ttl time.Duration, now time.Time) error {
	b, _ := json.Marshal(heartbeatRecord{Expires: now.Add(ttl).UnixNano()})
	return st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(store.KindMeta, nodesScope, node, b)
	})
}

// liveNodes counts the heartbeats that have not expired at now, and lists
// those expired before dead.
func liveNodes(ctx context.Context, st store.Store, now, dead time.Time) (live int, stale []string, err error) {
	err = st.View(ctx, func(tx store.Tx) error {
		live, stale = 0, nil
		after := ""
		for {
			items, err := tx.List(store.KindMeta, nodesScope, after, 1000)
			if err != nil {
				return err
			}
			for _, it := range items {
				var h heartbeatRecord
				if json.Unmarshal(it.Value, &h) != nil {
					continue
				}
				switch {
				case h.Expires > now.UnixNano():
					live++
				case h.Expires < dead.UnixNano():
					stale = append(stale, it.ID)
				}
			}
			if len(items) < 1000 {
				return nil
			}
			after = items[len(items)-1].ID
		}
	})
	return live, stale, err
}

// removeHeartbeats deletes the heartbeats ids that expired before
// deadBefore (any of them, if deadBefore is zero): a node restarted under
// the same id meanwhile keeps its new heartbeat.
func removeHeartbeats(ctx context.Context, st store.Store, ids []string, deadBefore time.Time) error {
	return st.Update(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			if !deadBefore.IsZero() {
				b, err := tx.Get(store.KindMeta, nodesScope, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				var h heartbeatRecord
				if json.Unmarshal(b, &h) == nil && h.Expires >= deadBefore.UnixNano() {
					continue
				}
			}
			if err := tx.Delete(store.KindMeta, nodesScope, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// runHeartbeat publishes this node's heartbeat and keeps the quota
// limiter's node count current until ctx ends; then it removes the
// heartbeat, so that the other nodes take back its share at once.
func (a *App) runHeartbeat(ctx context.Context) {
	every := a.opts.HeartbeatEvery
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		removeHeartbeats(ctx, a.opts.Store, []string{a.node}, time.Time{})
	}()
	for {
		now := time.Now()
		dead := now.Add(-heartbeatGC * every)
		err := beat(ctx, a.opts.Store, a.node, heartbeatLives*every, now)
		if err == nil {
			var live int
			var stale []string
			live, stale, err = liveNodes(ctx, a.opts.Store, now, dead)
			if err == nil {
				// This node's heartbeat was just written: live >= 1.
				a.opts.Quota.SetNodes(live)
				a.nodes.Store(int64(max(live, 1)))
				if len(stale) > 0 {
					err = removeHeartbeats(ctx, a.opts.Store, stale, dead)
				}
			}
		}
		// A failed round keeps the last count: the store is down, and so
		// is every node's request path.
		if err != nil && ctx.Err() == nil {
			a.opts.Logger.Warn("cluster heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Nodes returns how many live nodes the request quotas are shared among,
// as last counted (1 until counted, and without quotas).
func (a *App) Nodes() int { return int(max(a.nodes.Load(), 1)) }

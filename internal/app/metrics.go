package app

import (
	"context"
	"math"
	"time"

	"strongroom/internal/audit"
	"strongroom/internal/metrics"
	"strongroom/internal/store"
)

// registerMetrics adds the node's own gauges and counters to m: the hits
// and misses of every cache (counted with atomic adds on the request path;
// read only when /metrics is scraped), the audit trail's records held in
// memory, its records written and its lag (the queues and the age of the
// last signed digest), the store's retried transactions, and the live node
// count the quotas are shared among.
func (a *App) registerMetrics(m *metrics.Set) {
	r := m.Registry
	caches := func(hits bool) func(add func(string, float64)) {
		return func(add func(string, float64)) {
			for _, c := range a.Service.CacheStats() {
				add(c.Name, float64(pick(hits, c.Hits, c.Misses)))
			}
			for _, c := range a.Directory.CacheStats() {
				add(c.Name, float64(pick(hits, c.Hits, c.Misses)))
			}
		}
	}
	r.NewCounterFuncVec("strongroom_cache_hits_total", "Cache lookups answered from the cache, by cache: key_record (decoded key records), key_resolve (key references resolved, embedded store: any commit empties it), key_material (unsealed key material), policy (compiled policies), access_key, session, identity_policy (the identity caches).", "cache", caches(true))
	r.NewCounterFuncVec("strongroom_cache_misses_total", "Cache lookups that had to read the store or decode, unseal or parse, by cache (see strongroom_cache_hits_total).", "cache", caches(false))

	r.NewGaugeFunc("strongroom_audit_held_records", "Audit records acknowledged but held in memory because the store refuses writes (lost if the process stops before the store accepts them).", func() float64 {
		return float64(a.Trail.Held())
	})
	r.NewCounterFunc("strongroom_audit_records_total", "Audit records this node wrote: by its group commit, and inside callers' transactions (strongroom_audit_records_in_tx_total).", func() float64 {
		g, tx := a.Trail.RecordCounts()
		return float64(g + tx)
	})
	r.NewCounterFunc("strongroom_audit_records_in_tx_total", "Audit records this node wrote inside the transaction of the change they record (a changing call's own record, background events), counted when that transaction committed; with segment files (the embedded store) such records pass through an outbox and the group commit that moves them counts them instead.", func() float64 {
		_, tx := a.Trail.RecordCounts()
		return float64(tx)
	})
	r.NewGaugeFuncVec("strongroom_audit_queue_records", "Audit records not yet fully written, by stage: group_commit (waiting for this node's group commit), apply (durable in segment files, not yet applied to the store: head, digests, effects).", "stage", func(add func(string, float64)) {
		l, ok := trailLag(a.Trail)
		if !ok {
			add("group_commit", math.NaN())
			add("apply", math.NaN())
			return
		}
		add("group_commit", float64(l.Queued))
		add("apply", float64(l.Unapplied))
	})
	r.NewGaugeFunc("strongroom_audit_digest_age_seconds", "Seconds since the audit trail's last signed digest (since the trail began, before the first). A quiet trail signs nothing new: read it with strongroom_audit_unsigned_records.", func() float64 {
		l, ok := trailLag(a.Trail)
		if !ok {
			return math.NaN()
		}
		return max(0, a.opts.Clock.Now().Sub(l.LastDigest).Seconds())
	})
	r.NewGaugeFunc("strongroom_audit_unsigned_records", "Audit records applied to the store after the last signed digest.", func() float64 {
		l, ok := trailLag(a.Trail)
		if !ok {
			return math.NaN()
		}
		return float64(l.Unsigned)
	})
	if rs, ok := findStore[interface{ Retries() int64 }](a.opts.Store); ok {
		r.NewCounterFunc("strongroom_store_retries_total", "Store transactions this node ran again after a serialization failure or a deadlock (PostgreSQL).", func() float64 {
			return float64(rs.Retries())
		})
	}
	if us, ok := findStore[interface{ Unapplied() uint64 }](a.opts.Store); ok {
		r.NewGaugeFunc("strongroom_store_unapplied_commits", "Commits durable in the embedded store's redo log, not yet written into strongroom.db (the applier writes them every 250 ms).", func() float64 {
			return float64(us.Unapplied())
		})
	}
	r.NewCounterFunc("strongroom_audit_commits_total", "Store transactions of this node's audit group commit (strongroom_audit_records_total minus strongroom_audit_records_in_tx_total, per commit, is the batching).", func() float64 {
		_, n := a.Trail.Stats()
		return float64(n)
	})
	if a.opts.Quota != nil {
		r.NewGaugeFunc("strongroom_quota_nodes", "Live nodes the request quotas are shared among: each node allows 1/n of every rate.", func() float64 {
			return float64(a.Nodes())
		})
	}
}

func pick(first bool, a, b uint64) uint64 {
	if first {
		return a
	}
	return b
}

// trailLag reads the audit trail's lag (one read of its head in the
// store, bounded to 2 s); false if the store did not answer.
func trailLag(t *audit.Trail) (audit.Lag, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := t.Lag(ctx)
	return l, err == nil
}

// findStore finds, under any wrapping (metrics.InstrumentStore), a store
// that is a T: one that counts its retried transactions (PostgreSQL), or
// its commits not yet applied (the embedded store).
func findStore[T any](st store.Store) (T, bool) {
	for st != nil {
		if x, ok := st.(T); ok {
			return x, true
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			break
		}
		st = u.Unwrap()
	}
	var zero T
	return zero, false
}

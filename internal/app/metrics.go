package app

import "strongroom/internal/metrics"

// registerMetrics adds the node's own gauges and counters to m: the hits
// and misses of every cache (counted with atomic adds on the request path;
// read only when /metrics is scraped), the audit trail's records held in
// memory and its group commit, and the live node count the quotas are
// shared among.
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
	r.NewCounterFuncVec("strongroom_cache_hits_total", "Cache lookups answered from the cache, by cache: key_record (decoded key records), key_material (unsealed key material), policy (compiled policies), access_key, session, identity_policy (the identity caches).", "cache", caches(true))
	r.NewCounterFuncVec("strongroom_cache_misses_total", "Cache lookups that had to read the store or decode, unseal or parse, by cache (see strongroom_cache_hits_total).", "cache", caches(false))

	r.NewGaugeFunc("strongroom_audit_held_records", "Audit records acknowledged but held in memory because the store refuses writes (lost if the process stops before the store accepts them).", func() float64 {
		return float64(a.Trail.Held())
	})
	r.NewCounterFunc("strongroom_audit_records_total", "Audit records written by this node's group commit.", func() float64 {
		n, _ := a.Trail.Stats()
		return float64(n)
	})
	r.NewCounterFunc("strongroom_audit_commits_total", "Store transactions of this node's audit group commit (records per commit is the batching).", func() float64 {
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

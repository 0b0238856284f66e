package kms

// CacheStat counts the lookups of one of the core's caches that found
// what they looked for (Hits) and those that did not (Misses), since the
// process started.
type CacheStat struct {
	// Name is the cache's name in metrics: key_record (decoded key
	// records), key_resolve (key references resolved, while the store
	// holds no newer commit: resolvecache.go), key_material (unsealed key
	// material) or policy (compiled key and identity policies).
	Name         string
	Hits, Misses uint64
}

// CacheStats returns the counts of the core's caches. Counting costs a
// lookup one atomic add, no lock and no allocation. The key record cache
// is the process's (every Service in it shares it).
func (s *Service) CacheStats() []CacheStat {
	var rh, rm uint64
	if s.resolves != nil {
		rh, rm = s.resolves.hits.Load(), s.resolves.misses.Load()
	}
	return []CacheStat{
		{"key_record", keyRecords.hits.Load(), keyRecords.misses.Load()},
		{"key_resolve", rh, rm},
		{"key_material", s.cache.hits.Load(), s.cache.misses.Load()},
		{"policy", s.policies.hits.Load(), s.policies.misses.Load()},
	}
}

// Package bench is Strongroom's performance harness. It holds no library
// code of its own; its parts are:
//
//	bench/loadgen     the load generator: aws-sdk-go-v2, closed loop, N workers
//	bench/refserver   the bare HTTP+JSON reference server (the ceiling)
//	bench/run.sh      builds both, runs Strongroom and the reference A B A B, prints ratios
//	bench/*_test.go   whole-service tests and the in-process profiling run
//
// docs/performance.md says how to run them and records what they measured.
// A benchmark is not a test: CI runs `bench/run.sh --smoke` to prove the
// harness works and asserts nothing about speed.
package bench

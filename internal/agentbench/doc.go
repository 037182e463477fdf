// Package agentbench measures the real agent binary at fleet scale: memory
// as the running process holds it and the cost of reconciles (see
// BenchmarkAgent10k and `make bench`). It holds no code of its own.
package agentbench

"""`make bench`: Linli's throughput, latency, replay and memory against baselines measured in the same run."""

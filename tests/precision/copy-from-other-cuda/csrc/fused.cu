// fused kernel sources

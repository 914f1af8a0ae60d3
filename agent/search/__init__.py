"""Search and retrieval: offline embeddings and vector search over incident history."""

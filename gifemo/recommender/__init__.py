"""GIF suggestions for a message: a faiss index over GIF vectors (emotion scores + tag-text embedding).

`suggest.Recommender` is the entry point; `index` keeps the vectors beside the corpus, `ranking` scores,
filters, diversifies and explains. Nothing is imported here, so that `gifemo --help` stays fast.
"""

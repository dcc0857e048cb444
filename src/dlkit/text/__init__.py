"""Text: vocabularies, the character-level language model, sampling, perplexity (course 5).

- ``CharVocab`` / ``WordVocab``: tokens <-> ids with ``<PAD>`` (0), ``<UNK>`` (1), ``<EOS>`` (2);
  JSON files (``save`` / ``load_vocab``).
- ``CharLM``: Embedding -> RNN / GRU / LSTM -> per-step logits (a registered module:
  ``dl.io.save`` / ``dl.io.load``).
- ``lm_batch``, ``tbptt_chunks``: padded, masked batches of lines; a stream in chunks.
- ``fit_lines`` / ``fit_stream`` (truncated BPTT), with gradient clipping; ``SampleText``
  prints samples as the model trains.
- ``sample`` / ``sample_many`` (temperature, top-k, seeded), ``perplexity``.
- ``dinosaur_names()``: the course's 1536 names, bundled.
"""

from dlkit.text.batching import lm_batch, lm_pair, pad_sequences, padding_mask, tbptt_chunks
from dlkit.text.charlm import CELLS, CharLM
from dlkit.text.corpus import bundled_text, dinosaur_names, read_lines, read_text, split_lines
from dlkit.text.sampling import (
    evaluating,
    lm_loss,
    next_token_probabilities,
    perplexity,
    sample,
    sample_ids,
    sample_many,
    stream_loss,
)
from dlkit.text.training import SampleText, fit_lines, fit_stream
from dlkit.text.vocab import (
    EOS,
    EOS_ID,
    PAD,
    PAD_ID,
    SPECIALS,
    UNK,
    UNK_ID,
    CharVocab,
    Vocab,
    WordVocab,
    load_vocab,
)

__all__ = [
    "CELLS", "EOS", "EOS_ID", "PAD", "PAD_ID", "SPECIALS", "UNK", "UNK_ID", "CharLM",
    "CharVocab", "SampleText", "Vocab", "WordVocab", "bundled_text", "dinosaur_names",
    "evaluating", "fit_lines", "fit_stream", "lm_batch", "lm_loss", "lm_pair", "load_vocab",
    "next_token_probabilities", "pad_sequences", "padding_mask", "perplexity", "read_lines",
    "read_text", "sample", "sample_ids", "sample_many", "split_lines", "stream_loss",
    "tbptt_chunks",
]

# --- seq2seq (course 5 week 3): BLEU, decoding, dates, beam-search error analysis ---
from dlkit.text.beam_analysis import BeamErrorReport, beam_error_analysis  # noqa: E402
from dlkit.text.bleu import (  # noqa: E402
    BLEUScore,
    bleu_score,
    corpus_bleu,
    modified_precision,
    sentence_bleu,
)
from dlkit.text.captioning import CaptionModel, caption, synthetic_captions  # noqa: E402
from dlkit.text.dates import date_pairs, format_date, human_vocab, machine_vocab  # noqa: E402
from dlkit.text.decode import (  # noqa: E402
    Hypothesis,
    beam_search,
    greedy_search,
    lm_beam_search,
    lm_step_fn,
    sample_search,
    select_state,
    sequence_log_probs,
)
from dlkit.text.seq2seq import (  # noqa: E402
    Seq2Seq,
    Seq2SeqStep,
    Translator,
    fit_seq2seq,
    teacher_forcing,
)

__all__ += [
    "CaptionModel", "caption", "synthetic_captions",
    "BeamErrorReport", "beam_error_analysis",
    "Seq2Seq", "Seq2SeqStep", "Translator", "fit_seq2seq", "teacher_forcing",
    "date_pairs", "format_date", "human_vocab", "machine_vocab",
    "BLEUScore", "Hypothesis", "beam_search", "bleu_score", "corpus_bleu", "greedy_search",
    "lm_beam_search", "lm_step_fn", "modified_precision", "sample_search", "select_state",
    "sentence_bleu", "sequence_log_probs",
]

# ---- word embeddings (course 5, week 2): vectors, word2vec, GloVe, debiasing, sentiment ----
from dlkit.text.vectors import (  # noqa: E402
    UnknownWordError,
    WordVectors,
    cosine_similarity,
    euclidean_distance,
    load_vectors,
    save_vectors,
)

__all__ += [
    "UnknownWordError", "WordVectors", "cosine_similarity", "euclidean_distance", "load_vectors",
    "save_vectors",
]
from dlkit.text.debias import bias_direction, debias, equalize, neutralize  # noqa: E402

__all__ += ["bias_direction", "debias", "equalize", "neutralize"]
from dlkit.text.embedding_data import (  # noqa: E402
    default_corpus,
    planted_analogy_corpus,
    sentiment_sentences,
    shakespeare_corpus,
)
from dlkit.text.word2vec import SkipGram, UnigramSampler, Word2Vec  # noqa: E402
from dlkit.text.word_corpus import read_corpus, read_text8, tokenize  # noqa: E402

__all__ += [
    "SkipGram", "UnigramSampler", "Word2Vec", "default_corpus", "planted_analogy_corpus",
    "read_corpus", "read_text8", "sentiment_sentences", "shakespeare_corpus", "tokenize",
]
from dlkit.text.glove import GloVe, cooccurrence  # noqa: E402

__all__ += ["GloVe", "cooccurrence"]
from dlkit.text.sentiment import (  # noqa: E402
    AverageSentiment,
    LSTMSentiment,
    sentences_to_indices,
    train_sentiment,
)

__all__ += ["AverageSentiment", "LSTMSentiment", "sentences_to_indices", "train_sentiment"]

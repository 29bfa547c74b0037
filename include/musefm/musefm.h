// musefm — self-supervised music representations (MERT / MusicFM) on libtorch.
//
// Umbrella header. Concepts, one header each:
//   musefm/error.h     musefm::Error, the exception every API throws on bad input
//   musefm/audio.h     decode (libsndfile), mono mix-down, resample (libsamplerate), streaming
//   musefm/features.h  MusicFM mel, Kaldi MFCC, MERT/nnAudio CQT, librosa CQT and chroma
//   musefm/feature_runner.h  features of audio files as .npy + JSON sidecar (`musefm features`)
//   musefm/npy.h       .npy read / write
//   musefm/config.h    EncoderConfig: MERT / MusicFM model description (config.json)
//   musefm/encoder.h   Encoder: load a model dir (MERT-v1 or MusicFM), hidden states of every layer
//   musefm/default_model.h  the shipped model (Encoder::load_default), model-dir checksums
//   musefm/codec.h     EncodecTeacher: EnCodec 24 kHz encoder + RVQ codes (MERT acoustic targets)
//   musefm/extract.h   Extractor: embeddings of any length in bounded memory, batches, streams
//   musefm/extract_files.h  EmbeddingFileWriter: embeddings of files as .npy + sidecar
//   musefm/safetensors.h  memory-mapped safetensors read / atomic write (model weights)
//   musefm/manifest.h  fairseq audio manifests (train.tsv)
//   musefm/file_batch.h  many files, one output each: resume, failures.jsonl (features, extract)
//   musefm/teachers.h  pretraining targets: k-means, BEST-RQ, teachers, labelling a manifest
//                      (label_manifest: sharded, resumable), label sets + verification
//   musefm/train.h     pretraining: masked prediction, AdamW, checkpoints, c10d ranks
//   musefm/distributed.h  c10d collectives (gloo) for multi-process jobs (torchrun / SLURM)
//   musefm/probe.h     MARBLE-protocol probes of every layer: task folders, cached features,
//                      linear / MLP probes, reports, the resumable suite (run_probe_suite)
//   musefm/progress.h  ProgressCallbacks: stages and log lines of the long pipelines
//   musefm/metrics.h   MIR metrics (accuracy, macro-F1, ROC-AUC, AP, R², MIREX key score)
//   musefm/runtime.h   opt-in malloc tuning for long inference runs
//
// Minimal use:
//
//   #include <musefm/musefm.h>
//
//   // Embeddings: every layer of a converted MERT-v1 / MusicFM model, mean over time.
//   musefm::Extractor ex(musefm::Encoder::load("models/mert-v1-95m"), {});
//   at::Tensor wav = musefm::waveform_tensor(musefm::load_audio("song.flac"));  // 24 kHz
//   at::Tensor emb = ex.extract(wav);                              // [13, 768]
//
//   // Long or live audio: frames as windows complete, memory bounded by the window.
//   auto stream = ex.create_stream();
//   stream.accept_waveform(block);  at::Tensor frames = stream.compute();  // [13, t, 768]
//   at::Tensor rest = stream.flush();
//
//   // Features.
//   musefm::Audio a = musefm::load_audio("song.flac");            // mono float32, 24 kHz
//   at::Tensor wav = musefm::waveform_tensor(a);                   // [L] float32
//
//   musefm::MelSpectrogram mel(musefm::MelConfig::musicfm());     // MusicFM's front-end
//   at::Tensor m = mel(wav);                                       // [128, T], 100 Hz, dB
//
//   musefm::NnAudioCqt cqt(musefm::NnAudioCqtConfig::mert());     // MERT's CQT target
//   at::Tensor c = cqt(wav);                                       // [336, T], 75 Hz
//
//   musefm::KaldiMfcc mfcc(musefm::KaldiMfccConfig::hubert(24000));
//   at::Tensor f = mfcc(wav);                                      // [T, 39], 100 Hz
//
//   // Pretraining targets: k-means labels of those MFCC frames.
//   musefm::KMeansConfig kc;  kc.k = 100;
//   at::Tensor ids = musefm::KMeans::fit(f, kc).assign(f);         // [T] int64
//
// Transforms accept [L] or [B, L] tensors on any device and are safe to share between
// threads once constructed. Errors are musefm::Error with a message naming the file or
// config key and the reason.
//
// CMake:   find_package(musefm REQUIRED)
//          target_link_libraries(app PRIVATE musefm::musefm)
#pragma once

#include "musefm/audio.h"
#include "musefm/codec.h"
#include "musefm/default_model.h"
#include "musefm/encoder.h"
#include "musefm/encoder_config.h"
#include "musefm/error.h"
#include "musefm/extract.h"
#include "musefm/extract_files.h"
#include "musefm/feature_runner.h"
#include "musefm/features.h"
#include "musefm/file_batch.h"
#include "musefm/manifest.h"
#include "musefm/metrics.h"
#include "musefm/npy.h"
#include "musefm/probe.h"
#include "musefm/progress.h"
#include "musefm/runtime.h"
#include "musefm/safetensors.h"
#include "musefm/teachers.h"
#include "musefm/train.h"

// Internal: filter-bank and window design in double precision (Eigen, no autograd).
// Each function mirrors one reference routine; the source is named in its comment.
#pragma once

#include <Eigen/Core>

#include <string>

#include "musefm/features.h"

namespace musefm::features_detail {

using MatrixXdRow = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Hz -> mel (HTK: 2595 log10(1 + f/700); Slaney: linear below 1 kHz, log above), as
/// torchaudio.functional._hz_to_mel and librosa.hz_to_mel.
double hz_to_mel(double hz, MelScale scale);

/// torchaudio.compliance.kaldi.get_mel_banks (vtln_warp = 1): [num_bins, padded/2 + 1], with
/// the zero Nyquist column torchaudio appends.
MatrixXdRow kaldi_mel_banks(int num_bins, int padded_window_size, double sample_freq,
                            double low_freq, double high_freq);

/// Window of `length` samples: "hann" (periodic or symmetric), "hamming", "povey"
/// (symmetric Hann ** 0.85, Kaldi), "rectangular", "blackman" (Kaldi, coefficient 0.42).
Eigen::VectorXd make_window(const std::string& name, int length, bool periodic);

/// torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho"): [n_mels, n_mfcc].
MatrixXdRow dct_ortho(int n_mfcc, int n_mels);

}  // namespace musefm::features_detail

// MIR evaluation metrics for probes: classification, multilabel tagging, regression, key, beats.
//
//   std::vector<int> y = {0, 2, 1, 2}, pred = {0, 1, 1, 2};
//   double acc = musefm::accuracy(y, pred);                        // 0.75
//   double f1 = musefm::macro_f1(y, pred, /*num_classes=*/3);      // sklearn f1_score, macro
//
//   std::vector<std::vector<int>> tags = {{1, 0}, {0, 1}, {1, 1}};  // N x C, 0/1
//   std::vector<std::vector<double>> logits = {{2.0, -1.0}, {0.1, 0.3}, {0.9, 0.2}};
//   musefm::MacroScore auc = musefm::roc_auc_macro(tags, logits);  // auc.value, auc.num_skipped
//   musefm::MacroScore ap = musefm::pr_auc_macro(tags, logits);    // average precision
//
//   std::vector<std::vector<double>> probs = ...;                   // N x C class scores
//   musefm::MacroScore ovr = musefm::roc_auc_ovr_macro(y, probs);   // one-vs-rest ROC-AUC
//
//   double r2 = musefm::r2_score(targets, predictions);             // N x D, mean over outputs
//
//   int k = musefm::key_index("F# minor");                          // 18 = 6 + 12 * 1
//   double w = musefm::mirex_key_score(musefm::key_index("C major"),
//                                      musefm::key_index("G major"));  // 0.5 (fifth)
//
//   double f = musefm::beat_f_measure({0.5, 1.0, 1.5}, {0.52, 1.2});  // 0.4 (1 match in 70 ms)
//
// Reference implementations, matched to 1e-9 by tests/test_metrics.cpp on fixtures from
// tools/make_metric_fixtures.py: scikit-learn 1.9 (accuracy_score, f1_score, roc_auc_score,
// average_precision_score, r2_score) and mir_eval 0.8.2 (mir_eval.key.weighted_score,
// mir_eval.beat.f_measure). Where
// scikit-learn gives NaN or raises (a class whose y_true column holds one value only), these
// functions skip the class and say so in MacroScore; see each function.
//
// Every function validates its input (empty, mismatched lengths, labels out of range, NaN or
// infinite scores) and throws musefm::Error naming the function and the argument. All functions
// are pure and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "musefm/error.h"

namespace musefm {

/// An unweighted mean of per-class scores, with the classes that could not be scored.
struct MacroScore {
  double value = 0.0;             ///< mean of per_class over the scored classes
  std::vector<double> per_class;  ///< one score per class; NaN for a skipped class
  int num_scored = 0;             ///< classes in the mean
  int num_skipped = 0;            ///< classes skipped: their y_true column is all 0 or all 1
};

// ---- classification ---------------------------------------------------------------------------

/// Fraction of positions where y_pred equals y_true (sklearn accuracy_score).
double accuracy(const std::vector<int>& y_true, const std::vector<int>& y_pred);

/// F1 of each class 0..num_classes-1: 2 TP / (2 TP + FP + FN), 0 when the class occurs in
/// neither y_true nor y_pred.
std::vector<double> f1_per_class(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                 int num_classes);

/// Mean of f1_per_class over all num_classes classes: every class in 0..num_classes-1 counts,
/// also one absent from both y_true and y_pred (it scores 0). Equals sklearn
/// f1_score(average="macro", labels=range(num_classes), zero_division=0). Labels must lie in
/// [0, num_classes).
double macro_f1(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes);

// ---- ranking: ROC-AUC and average precision ---------------------------------------------------

/// Area under the ROC curve of one binary column (sklearn roc_auc_score): trapezoids between
/// the curve's points at the distinct score values, so tied scores form one diagonal step.
/// y_true must hold both 0 and 1.
double binary_roc_auc(const std::vector<int>& y_true, const std::vector<double>& scores);

/// Average precision of one binary column (sklearn average_precision_score): the sum over
/// distinct score values, in decreasing order, of (recall step) x (precision at that value);
/// tied scores enter together, no interpolation. y_true must hold both 0 and 1.
double average_precision(const std::vector<int>& y_true, const std::vector<double>& scores);

/// Multilabel macro ROC-AUC. y_true is N x C of 0/1, scores N x C (higher = more likely).
/// Classes whose y_true column is all 0 or all 1 are skipped and counted in num_skipped (sklearn
/// gives NaN for the macro mean then); with none skipped the value equals sklearn
/// roc_auc_score(y_true, scores, average="macro"). Throws when every class is skipped.
MacroScore roc_auc_macro(const std::vector<std::vector<int>>& y_true,
                         const std::vector<std::vector<double>>& scores);

/// Multilabel macro average precision (PR-AUC), same shapes and skipping rule as
/// roc_auc_macro; with none skipped it equals sklearn average_precision_score(average="macro").
/// Note sklearn itself scores an all-0 column 0 and an all-1 column 1 instead of skipping it.
MacroScore pr_auc_macro(const std::vector<std::vector<int>>& y_true,
                        const std::vector<std::vector<double>>& scores);

/// One-vs-rest macro ROC-AUC for single-label classification: y_true holds class indices in
/// [0, C), scores is N x C (C >= 2). Class c is scored by column c against "not c"; classes
/// absent from y_true (or the only class present) are skipped as in roc_auc_macro. Equals
/// sklearn roc_auc_score(multi_class="ovr", average="macro") whenever sklearn accepts the
/// input (every class present, rows of probabilities summing to 1; with C = 2 sklearn's binary
/// roc_auc_score(y_true, scores[:, 1])). Rows are not required to sum to 1 here.
MacroScore roc_auc_ovr_macro(const std::vector<int>& y_true,
                             const std::vector<std::vector<double>>& scores);

// ---- regression -------------------------------------------------------------------------------

/// Coefficient of determination of each output column: 1 - SS_res / SS_tot over N >= 2 rows of
/// N x D inputs. A constant y_true column (all values equal) scores 1 if predicted exactly, else
/// 0 (sklearn's force_finite=True). Equals sklearn r2_score(multioutput="raw_values").
std::vector<double> r2_score_per_output(const std::vector<std::vector<double>>& y_true,
                                        const std::vector<std::vector<double>>& y_pred);

/// Mean of r2_score_per_output (sklearn r2_score, multioutput="uniform_average").
double r2_score(const std::vector<std::vector<double>>& y_true,
                const std::vector<std::vector<double>>& y_pred);

// ---- musical key (MIREX weighted score) -------------------------------------------------------

/// Number of key classes: 12 tonics x {major, minor}.
constexpr int kNumKeys = 24;

/// Key index = tonic + 12 * mode, tonic in semitones above C (0..11), mode 0 = major,
/// 1 = minor: 0 = C major ... 11 = B major, 12 = C minor ... 23 = B minor. Parses
/// "<tonic> <mode>": a letter A-G with an optional '#' or 'b' (any case; enharmonics such as
/// "Db" = "C#" and "Cb" = "B" map to one index), whitespace, then "major" or "minor" (any case).
/// Throws on anything else (mir_eval's "X" and "other" have no index).
int key_index(const std::string& name);

/// Canonical name of a key index, spelled with sharps: "C major", "C# major", ... "B minor".
std::string key_name(int key);

/// MIREX weighted score of a predicted key against the true one, as mir_eval.key.weighted_score:
/// 1.0 same key; 0.5 same mode with the predicted tonic a perfect fifth (7 semitones) ABOVE the
/// true one (a fifth below scores 0); 0.3 relative key (true major -> predicted minor 9
/// semitones up, e.g. C major -> A minor; true minor -> predicted major 3 semitones up);
/// 0.2 parallel key (same tonic, other mode); 0.0 otherwise.
double mirex_key_score(int true_key, int pred_key);

/// Mean of mirex_key_score over pairs of key indices.
double mirex_key_accuracy(const std::vector<int>& true_keys, const std::vector<int>& pred_keys);

/// Beat F-measure of estimated beat times against reference ones (seconds), as
/// mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=window_s): a maximum
/// one-to-one matching of beats within +-window_s, precision = matches / estimated, recall =
/// matches / reference, F = 2PR / (P + R) (0 when either list is empty or nothing matches).
/// No trimming: mir_eval.beat.evaluate's trim_beats (dropping beats before 5 s) is the caller's
/// business. Both lists must be finite, >= 0 and non-decreasing (mir_eval's validate).
double beat_f_measure(const std::vector<double>& reference, const std::vector<double>& estimated,
                      double window_s = 0.07);

}  // namespace musefm

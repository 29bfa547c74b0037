// MIR evaluation metrics: scikit-learn / mir_eval semantics in plain C++ (no libtorch).
#include "musefm/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <sstream>

namespace musefm {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Throws unless two label vectors are non-empty and of equal length.
void check_pair(const char* fn, const char* a, std::size_t na, const char* b, std::size_t nb) {
  MUSEFM_CHECK(na > 0, fn, ": ", a, " is empty");
  MUSEFM_CHECK(na == nb, fn, ": ", a, " has ", na, " entries but ", b, " has ", nb);
}

/// Throws unless every label lies in [0, num_classes).
void check_labels(const char* fn, const char* arg, const std::vector<int>& labels,
                  int num_classes) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    MUSEFM_CHECK(labels[i] >= 0 && labels[i] < num_classes, fn, ": ", arg, "[", i,
                 "] = ", labels[i], " is out of range [0, ", num_classes, ")");
}

/// F1 of each class (sklearn: 2 TP / (true count + predicted count), 0 when both are 0).
std::vector<double> f1_scores(const char* fn, const std::vector<int>& y_true,
                              const std::vector<int>& y_pred, int num_classes) {
  MUSEFM_CHECK(num_classes >= 1, fn, ": num_classes = ", num_classes, " must be >= 1");
  check_pair(fn, "y_true", y_true.size(), "y_pred", y_pred.size());
  check_labels(fn, "y_true", y_true, num_classes);
  check_labels(fn, "y_pred", y_pred, num_classes);
  std::vector<double> tp(num_classes, 0.0), true_sum(num_classes, 0.0), pred_sum(num_classes, 0.0);
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    true_sum[y_true[i]] += 1.0;
    pred_sum[y_pred[i]] += 1.0;
    if (y_true[i] == y_pred[i]) tp[y_true[i]] += 1.0;
  }
  std::vector<double> f1(num_classes, 0.0);
  for (int c = 0; c < num_classes; ++c) {
    const double denom = true_sum[c] + pred_sum[c];  // 2 TP + FP + FN
    if (denom > 0.0) f1[c] = 2.0 * tp[c] / denom;    // else zero_division=0
  }
  return f1;
}

/// Throws unless `v` is finite; names the element.
void check_finite(const char* fn, const char* arg, double v, std::size_t i, std::size_t c,
                  bool matrix) {
  if (std::isfinite(v)) return;
  std::ostringstream at;
  at << arg << "[" << i << "]";
  if (matrix) at << "[" << c << "]";
  MUSEFM_FAIL(fn, ": ", at.str(), " is ", std::isnan(v) ? "NaN" : "infinite");
}

/// Throws unless `m` is a non-empty rectangular matrix; returns its number of columns.
template <typename T>
std::size_t check_matrix(const char* fn, const char* arg, const std::vector<std::vector<T>>& m) {
  MUSEFM_CHECK(!m.empty(), fn, ": ", arg, " is empty (no rows)");
  const std::size_t cols = m[0].size();
  MUSEFM_CHECK(cols > 0, fn, ": ", arg, "[0] is empty (no columns)");
  for (std::size_t i = 1; i < m.size(); ++i)
    MUSEFM_CHECK(m[i].size() == cols, fn, ": ", arg, "[", i, "] has ", m[i].size(), " columns but ",
                 arg, "[0] has ", cols);
  return cols;
}

/// Throws unless `y_true` (0/1) and `scores` (finite) have the same shape N x C.
void check_multilabel(const char* fn, const std::vector<std::vector<int>>& y_true,
                      const std::vector<std::vector<double>>& scores) {
  const std::size_t cols = check_matrix(fn, "y_true", y_true);
  const std::size_t score_cols = check_matrix(fn, "scores", scores);
  MUSEFM_CHECK(y_true.size() == scores.size(), fn, ": y_true has ", y_true.size(),
               " rows but scores has ", scores.size());
  MUSEFM_CHECK(cols == score_cols, fn, ": y_true has ", cols, " columns but scores has ",
               score_cols);
  for (std::size_t i = 0; i < y_true.size(); ++i)
    for (std::size_t c = 0; c < cols; ++c) {
      MUSEFM_CHECK(y_true[i][c] == 0 || y_true[i][c] == 1, fn, ": y_true[", i, "][", c,
                   "] = ", y_true[i][c], " is not 0 or 1");
      check_finite(fn, "scores", scores[i][c], i, c, true);
    }
}

/// Cumulative true / false positives at each distinct score, scores taken in decreasing order
/// (sklearn's _binary_clf_curve: a stable sort, one point per run of equal scores).
struct Curve {
  std::vector<double> tps, fps;
};

Curve binary_curve(const std::vector<int>& y, const std::vector<double>& s) {
  std::vector<std::size_t> order(y.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return s[a] > s[b]; });
  Curve curve;
  double tp = 0.0, fp = 0.0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    (y[order[k]] == 1 ? tp : fp) += 1.0;
    if (k + 1 == order.size() || s[order[k + 1]] != s[order[k]]) {
      curve.tps.push_back(tp);
      curve.fps.push_back(fp);
    }
  }
  return curve;
}

/// ROC-AUC of a column holding both labels: trapezoids from (0, 0) through every curve point,
/// summed in counts and normalised once by P * N.
double roc_auc_unchecked(const std::vector<int>& y, const std::vector<double>& s) {
  const Curve c = binary_curve(y, s);
  double area = 0.0, tp_prev = 0.0, fp_prev = 0.0;
  for (std::size_t k = 0; k < c.tps.size(); ++k) {
    area += (c.fps[k] - fp_prev) * (c.tps[k] + tp_prev);
    tp_prev = c.tps[k];
    fp_prev = c.fps[k];
  }
  return area / (2.0 * tp_prev * fp_prev);
}

/// Average precision of a column holding both labels: sum of recall steps x precision.
double average_precision_unchecked(const std::vector<int>& y, const std::vector<double>& s) {
  const Curve c = binary_curve(y, s);
  double sum = 0.0, tp_prev = 0.0;
  for (std::size_t k = 0; k < c.tps.size(); ++k) {
    sum += (c.tps[k] - tp_prev) * (c.tps[k] / (c.tps[k] + c.fps[k]));
    tp_prev = c.tps[k];
  }
  return std::max(0.0, sum / tp_prev);
}

using BinaryMetric = double (*)(const std::vector<int>&, const std::vector<double>&);

/// Applies `metric` to each column of validated N x C inputs; skips single-valued columns.
MacroScore macro_over_columns(const char* fn, const std::vector<std::vector<int>>& y_true,
                              const std::vector<std::vector<double>>& scores, BinaryMetric metric) {
  const std::size_t n = y_true.size(), cols = y_true[0].size();
  MacroScore out;
  out.per_class.assign(cols, kNaN);
  std::vector<int> y(n);
  std::vector<double> s(n);
  double sum = 0.0;
  for (std::size_t c = 0; c < cols; ++c) {
    std::size_t positives = 0;
    for (std::size_t i = 0; i < n; ++i) {
      y[i] = y_true[i][c];
      s[i] = scores[i][c];
      positives += static_cast<std::size_t>(y[i]);
    }
    if (positives == 0 || positives == n) {
      ++out.num_skipped;
      continue;
    }
    out.per_class[c] = metric(y, s);
    sum += out.per_class[c];
    ++out.num_scored;
  }
  MUSEFM_CHECK(out.num_scored > 0, fn, ": no class can be scored: each of the ", cols,
               " y_true columns is all 0 or all 1 (a class needs both labels)");
  out.value = sum / out.num_scored;
  return out;
}

/// Validates one binary column (0/1 labels with both present, finite scores).
void check_binary(const char* fn, const std::vector<int>& y_true,
                  const std::vector<double>& scores) {
  check_pair(fn, "y_true", y_true.size(), "scores", scores.size());
  std::size_t positives = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    MUSEFM_CHECK(y_true[i] == 0 || y_true[i] == 1, fn, ": y_true[", i, "] = ", y_true[i],
                 " is not 0 or 1");
    check_finite(fn, "scores", scores[i], i, 0, false);
    positives += static_cast<std::size_t>(y_true[i]);
  }
  MUSEFM_CHECK(positives > 0 && positives < y_true.size(), fn,
               ": y_true holds only one label value (", positives == 0 ? 0 : 1,
               "); the metric needs both 0 and 1");
}

}  // namespace

// ---- classification ---------------------------------------------------------------------------

double accuracy(const std::vector<int>& y_true, const std::vector<int>& y_pred) {
  check_pair("accuracy", "y_true", y_true.size(), "y_pred", y_pred.size());
  std::size_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i] ? 1 : 0;
  return static_cast<double>(correct) / static_cast<double>(y_true.size());
}

std::vector<double> f1_per_class(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                 int num_classes) {
  return f1_scores("f1_per_class", y_true, y_pred, num_classes);
}

double macro_f1(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes) {
  const std::vector<double> f1 = f1_scores("macro_f1", y_true, y_pred, num_classes);
  return std::accumulate(f1.begin(), f1.end(), 0.0) / num_classes;
}

// ---- ranking ----------------------------------------------------------------------------------

double binary_roc_auc(const std::vector<int>& y_true, const std::vector<double>& scores) {
  check_binary("binary_roc_auc", y_true, scores);
  return roc_auc_unchecked(y_true, scores);
}

double average_precision(const std::vector<int>& y_true, const std::vector<double>& scores) {
  check_binary("average_precision", y_true, scores);
  return average_precision_unchecked(y_true, scores);
}

MacroScore roc_auc_macro(const std::vector<std::vector<int>>& y_true,
                         const std::vector<std::vector<double>>& scores) {
  check_multilabel("roc_auc_macro", y_true, scores);
  return macro_over_columns("roc_auc_macro", y_true, scores, roc_auc_unchecked);
}

MacroScore pr_auc_macro(const std::vector<std::vector<int>>& y_true,
                        const std::vector<std::vector<double>>& scores) {
  check_multilabel("pr_auc_macro", y_true, scores);
  return macro_over_columns("pr_auc_macro", y_true, scores, average_precision_unchecked);
}

MacroScore roc_auc_ovr_macro(const std::vector<int>& y_true,
                             const std::vector<std::vector<double>>& scores) {
  const char* fn = "roc_auc_ovr_macro";
  const std::size_t cols = check_matrix(fn, "scores", scores);
  MUSEFM_CHECK(cols >= 2, fn, ": scores has ", cols, " column; one-vs-rest needs >= 2 classes");
  check_pair(fn, "y_true", y_true.size(), "scores", scores.size());
  check_labels(fn, "y_true", y_true, static_cast<int>(cols));
  std::vector<std::vector<int>> one_hot(y_true.size(), std::vector<int>(cols, 0));
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    one_hot[i][y_true[i]] = 1;
    for (std::size_t c = 0; c < cols; ++c) check_finite(fn, "scores", scores[i][c], i, c, true);
  }
  return macro_over_columns(fn, one_hot, scores, roc_auc_unchecked);
}

// ---- regression -------------------------------------------------------------------------------

std::vector<double> r2_score_per_output(const std::vector<std::vector<double>>& y_true,
                                        const std::vector<std::vector<double>>& y_pred) {
  const char* fn = "r2_score";
  const std::size_t cols = check_matrix(fn, "y_true", y_true);
  const std::size_t pred_cols = check_matrix(fn, "y_pred", y_pred);
  MUSEFM_CHECK(y_true.size() == y_pred.size(), fn, ": y_true has ", y_true.size(),
               " rows but y_pred has ", y_pred.size());
  MUSEFM_CHECK(cols == pred_cols, fn, ": y_true has ", cols, " columns but y_pred has ", pred_cols);
  MUSEFM_CHECK(y_true.size() >= 2, fn, ": R^2 needs at least 2 rows, y_true has 1");
  const std::size_t n = y_true.size();
  std::vector<double> r2(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    double sum = 0.0, ss_res = 0.0;
    bool constant = true;
    for (std::size_t i = 0; i < n; ++i) {
      check_finite(fn, "y_true", y_true[i][c], i, c, true);
      check_finite(fn, "y_pred", y_pred[i][c], i, c, true);
      sum += y_true[i][c];
      const double e = y_true[i][c] - y_pred[i][c];
      ss_res += e * e;
      constant = constant && y_true[i][c] == y_true[0][c];
    }
    const double mean = sum / static_cast<double>(n);
    double ss_tot = 0.0;
    for (std::size_t i = 0; !constant && i < n; ++i)
      ss_tot += (y_true[i][c] - mean) * (y_true[i][c] - mean);
    // sklearn force_finite=True: exact predictions score 1, a constant target otherwise 0.
    r2[c] = ss_res == 0.0 ? 1.0 : (ss_tot == 0.0 ? 0.0 : 1.0 - ss_res / ss_tot);
  }
  return r2;
}

double r2_score(const std::vector<std::vector<double>>& y_true,
                const std::vector<std::vector<double>>& y_pred) {
  const std::vector<double> r2 = r2_score_per_output(y_true, y_pred);
  return std::accumulate(r2.begin(), r2.end(), 0.0) / static_cast<double>(r2.size());
}

// ---- musical key ------------------------------------------------------------------------------

int key_index(const std::string& name) {
  std::istringstream in(name);
  std::string tonic, mode, extra;
  in >> tonic >> mode;
  const bool two_words = !tonic.empty() && !mode.empty() && !(in >> extra);
  const auto fail = [&]() {
    MUSEFM_FAIL("key_index: '", name,
                "' is not a key name; expected '<tonic> <mode>' such as 'C# minor' or "
                "'Db major' (tonic A-G with optional '#' or 'b', mode major or minor)");
  };
  if (!two_words || tonic.size() > 2) fail();
  static const int kLetterSemitone[7] = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
  const char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(tonic[0])));
  if (letter < 'a' || letter > 'g') fail();
  int semitone = kLetterSemitone[letter - 'a'];
  if (tonic.size() == 2) {
    const char accidental = static_cast<char>(std::tolower(static_cast<unsigned char>(tonic[1])));
    if (accidental != '#' && accidental != 'b') fail();
    semitone += accidental == '#' ? 1 : -1;
  }
  for (char& ch : mode) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (mode != "major" && mode != "minor") fail();
  return (semitone + 12) % 12 + (mode == "minor" ? 12 : 0);
}

std::string key_name(int key) {
  MUSEFM_CHECK(key >= 0 && key < kNumKeys, "key_name: key = ", key, " is out of range [0, ",
               kNumKeys, ")");
  static const char* const kTonic[12] = {"C",  "C#", "D",  "D#", "E",  "F",
                                         "F#", "G",  "G#", "A",  "A#", "B"};
  return std::string(kTonic[key % 12]) + (key < 12 ? " major" : " minor");
}

double mirex_key_score(int true_key, int pred_key) {
  MUSEFM_CHECK(true_key >= 0 && true_key < kNumKeys, "mirex_key_score: true_key = ", true_key,
               " is out of range [0, ", kNumKeys, ")");
  MUSEFM_CHECK(pred_key >= 0 && pred_key < kNumKeys, "mirex_key_score: pred_key = ", pred_key,
               " is out of range [0, ", kNumKeys, ")");
  if (true_key == pred_key) return 1.0;
  const bool true_minor = true_key >= 12, pred_minor = pred_key >= 12;
  const int up = ((pred_key % 12) - (true_key % 12) + 12) % 12;  // semitones true -> predicted
  if (true_minor == pred_minor) return up == 7 ? 0.5 : 0.0;      // fifth above, same mode
  if (!true_minor && up == 9) return 0.3;                        // relative minor
  if (true_minor && up == 3) return 0.3;                         // relative major
  return up == 0 ? 0.2 : 0.0;                                    // parallel
}

double mirex_key_accuracy(const std::vector<int>& true_keys, const std::vector<int>& pred_keys) {
  const char* fn = "mirex_key_accuracy";
  check_pair(fn, "true_keys", true_keys.size(), "pred_keys", pred_keys.size());
  check_labels(fn, "true_keys", true_keys, kNumKeys);
  check_labels(fn, "pred_keys", pred_keys, kNumKeys);
  double sum = 0.0;
  for (std::size_t i = 0; i < true_keys.size(); ++i)
    sum += mirex_key_score(true_keys[i], pred_keys[i]);
  return sum / static_cast<double>(true_keys.size());
}

namespace {
void check_beats(const char* fn, const char* name, const std::vector<double>& beats) {
  for (std::size_t i = 0; i < beats.size(); ++i) {
    MUSEFM_CHECK(std::isfinite(beats[i]) && beats[i] >= 0.0, fn, ": ", name, "[", i,
                 "] = ", beats[i], " is not a finite time >= 0");
    MUSEFM_CHECK(i == 0 || beats[i] >= beats[i - 1], fn, ": ", name,
                 " must be in increasing order (", name, "[", i, "] = ", beats[i], " < ",
                 beats[i - 1], ")");
  }
}
}  // namespace

double beat_f_measure(const std::vector<double>& reference, const std::vector<double>& estimated,
                      double window_s) {
  const char* fn = "beat_f_measure";
  MUSEFM_CHECK(std::isfinite(window_s) && window_s >= 0.0, fn, ": window_s = ", window_s,
               " must be finite and >= 0");
  check_beats(fn, "reference", reference);
  check_beats(fn, "estimated", estimated);
  if (reference.empty() || estimated.empty()) return 0.0;
  // On sorted times with one window, pairing greedily from the left is a maximum matching:
  // the earliest unmatched beat can only lose by skipping its earliest partner in reach.
  std::size_t i = 0, j = 0, matches = 0;
  while (i < reference.size() && j < estimated.size()) {
    // mir_eval's hit test (util._fast_hit_windows): est - window <= ref <= est + window.
    if (reference[i] > estimated[j] + window_s) {
      ++j;  // estimate too early for this and every later reference
    } else if (reference[i] < estimated[j] - window_s) {
      ++i;  // reference too early for this and every later estimate
    } else {
      ++matches, ++i, ++j;
    }
  }
  if (matches == 0) return 0.0;
  const double p = double(matches) / double(estimated.size());
  const double r = double(matches) / double(reference.size());
  return 2.0 * p * r / (p + r);
}

}  // namespace musefm

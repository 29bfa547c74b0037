// Probe metrics against scikit-learn and mir_eval (fixtures from tools/make_metric_fixtures.py),
// hand-checkable tiny cases, and the errors of every function.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "musefm/metrics.h"

namespace musefm {
namespace {

using json = nlohmann::json;
using IntMatrix = std::vector<std::vector<int>>;
using Matrix = std::vector<std::vector<double>>;
constexpr double kTol = 1e-9;

json load(const std::string& name) {
  const std::string path = std::string(MUSEFM_FIXTURES_DIR) + "/metrics/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path << " (tools/make_metric_fixtures.py)";
  return json::parse(in);
}

/// The message of the musefm::Error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(expr, text)                                           \
  EXPECT_NE(error_of([&] { (void)(expr); }).find(text), std::string::npos) \
      << error_of([&] { (void)(expr); })

// ---- fixtures -----------------------------------------------------------------------------------

TEST(MetricsFixtures, ClassificationMatchesSklearn) {
  const json fx = load("classification.json");
  for (const json& c : fx["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto y = c["y_true"].get<std::vector<int>>(), p = c["y_pred"].get<std::vector<int>>();
    const int k = c["num_classes"];
    EXPECT_NEAR(accuracy(y, p), c["accuracy"].get<double>(), kTol);
    EXPECT_NEAR(macro_f1(y, p, k), c["macro_f1"].get<double>(), kTol);
    const auto per = f1_per_class(y, p, k);
    const auto want = c["f1_per_class"].get<std::vector<double>>();
    ASSERT_EQ(per.size(), want.size());
    for (std::size_t i = 0; i < per.size(); ++i) EXPECT_NEAR(per[i], want[i], kTol) << i;
  }
}

void expect_macro(const MacroScore& got, double value, const json& per_class, int skipped) {
  EXPECT_NEAR(got.value, value, kTol);
  EXPECT_EQ(got.num_skipped, skipped);
  EXPECT_EQ(got.num_scored + got.num_skipped, static_cast<int>(got.per_class.size()));
  if (per_class.is_null()) return;
  ASSERT_EQ(got.per_class.size(), per_class.size());
  for (std::size_t c = 0; c < per_class.size(); ++c) {
    if (per_class[c].is_null())
      EXPECT_TRUE(std::isnan(got.per_class[c])) << "class " << c << " should be skipped";
    else
      EXPECT_NEAR(got.per_class[c], per_class[c].get<double>(), kTol) << "class " << c;
  }
}

TEST(MetricsFixtures, MultilabelRocAndPrAucMatchSklearn) {
  const json fx = load("ranking.json");
  ASSERT_GE(fx["multilabel"].size(), 5u);
  for (const json& c : fx["multilabel"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto y = c["y_true"].get<IntMatrix>();
    const auto s = c["scores"].get<Matrix>();
    const int skipped = c["skipped"];
    expect_macro(roc_auc_macro(y, s), c["roc_auc_macro"], c["roc_auc_per_class"], skipped);
    expect_macro(pr_auc_macro(y, s), c["pr_auc_macro"], c["pr_auc_per_class"], skipped);
  }
}

TEST(MetricsFixtures, OneVsRestRocAucMatchesSklearn) {
  const json fx = load("ranking.json");
  ASSERT_GE(fx["ovr"].size(), 4u);
  for (const json& c : fx["ovr"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const MacroScore got =
        roc_auc_ovr_macro(c["y_true"].get<std::vector<int>>(), c["scores"].get<Matrix>());
    expect_macro(got, c["roc_auc_ovr_macro"], json(), c["skipped"]);
  }
}

TEST(MetricsFixtures, R2MatchesSklearn) {
  const json fx = load("regression.json");
  for (const json& c : fx["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto t = c["y_true"].get<Matrix>(), p = c["y_pred"].get<Matrix>();
    EXPECT_NEAR(r2_score(t, p), c["r2"].get<double>(), kTol);
    const auto per = r2_score_per_output(t, p);
    const auto want = c["r2_per_output"].get<std::vector<double>>();
    ASSERT_EQ(per.size(), want.size());
    for (std::size_t i = 0; i < per.size(); ++i) EXPECT_NEAR(per[i], want[i], kTol) << i;
  }
}

TEST(MetricsFixtures, KeyScoresMatchMirEval) {
  const json fx = load("key.json");
  const auto names = fx["index_names"].get<std::vector<std::string>>();
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kNumKeys));
  for (int k = 0; k < kNumKeys; ++k) {
    EXPECT_EQ(key_index(names[k]), k);
    EXPECT_EQ(key_name(k), names[k]);
  }
  for (int t = 0; t < kNumKeys; ++t)
    for (int p = 0; p < kNumKeys; ++p)
      EXPECT_EQ(mirex_key_score(t, p), fx["weighted_score"][t][p].get<double>())
          << names[t] << " -> " << names[p];
  for (const json& a : fx["accepted_names"])
    EXPECT_EQ(key_index(a[0].get<std::string>()), a[1].get<int>()) << a[0];
  const json& acc = fx["accuracy_case"];
  EXPECT_NEAR(
      mirex_key_accuracy(acc["true"].get<std::vector<int>>(), acc["pred"].get<std::vector<int>>()),
      acc["accuracy"].get<double>(), kTol);
}

// ---- tiny cases ---------------------------------------------------------------------------------

TEST(MetricsFixtures, BeatFMeasureMatchesMirEval) {
  const json fx = load("beat.json");
  ASSERT_GE(fx["cases"].size(), 30u);
  for (const auto& c : fx["cases"]) {
    const auto ref = c["reference"].get<std::vector<double>>();
    const auto est = c["estimated"].get<std::vector<double>>();
    EXPECT_NEAR(beat_f_measure(ref, est), c["f_measure"].get<double>(), kTol)
        << c["name"].get<std::string>();
  }
}

TEST(Metrics, TinyClassification) {
  EXPECT_DOUBLE_EQ(accuracy({0, 2, 1, 2}, {0, 1, 1, 2}), 0.75);
  // class 0: TP 1 -> F1 1; class 1: TP 1, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 2/3; class 3: 0.
  EXPECT_DOUBLE_EQ(macro_f1({0, 2, 1, 2}, {0, 1, 1, 2}, 3), (1.0 + 2.0 / 3 + 2.0 / 3) / 3);
  EXPECT_DOUBLE_EQ(macro_f1({0, 2, 1, 2}, {0, 1, 1, 2}, 4), (1.0 + 2.0 / 3 + 2.0 / 3) / 4);
}

TEST(Metrics, TinyRanking) {
  // Positives at 0.9 and 0.4, negatives at 0.6 and 0.4: of 4 pairs 2 won, 1 lost, 1 tied.
  EXPECT_DOUBLE_EQ(binary_roc_auc({1, 0, 1, 0}, {0.9, 0.6, 0.4, 0.4}), 0.625);
  // AP: threshold 0.9 recall 1/2 precision 1; threshold 0.6 no step; 0.4 recall +1/2 at 2/4.
  EXPECT_DOUBLE_EQ(average_precision({1, 0, 1, 0}, {0.9, 0.6, 0.4, 0.4}), 0.75);
  EXPECT_DOUBLE_EQ(binary_roc_auc({0, 1}, {1.0, 1.0}), 0.5);
  EXPECT_DOUBLE_EQ(binary_roc_auc({0, 1}, {-3.0, 7.0}), 1.0);
  EXPECT_DOUBLE_EQ(binary_roc_auc({0, 1}, {7.0, -3.0}), 0.0);
}

TEST(Metrics, SingleValuedColumnsAreSkippedAndCounted) {
  const IntMatrix y = {{1, 0, 1}, {0, 0, 1}, {1, 0, 1}, {0, 0, 1}};
  const Matrix s = {{0.9, 0.1, 0.2}, {0.2, 0.3, 0.4}, {0.8, 0.5, 0.6}, {0.1, 0.7, 0.8}};
  for (const MacroScore& m : {roc_auc_macro(y, s), pr_auc_macro(y, s)}) {
    EXPECT_DOUBLE_EQ(m.value, 1.0);
    EXPECT_EQ(m.num_scored, 1);
    EXPECT_EQ(m.num_skipped, 2);
    EXPECT_DOUBLE_EQ(m.per_class[0], 1.0);
    EXPECT_TRUE(std::isnan(m.per_class[1]) && std::isnan(m.per_class[2]));
  }
  const MacroScore ovr =
      roc_auc_ovr_macro({0, 0, 2, 2}, {{1, 0, 0}, {1, 0, 0}, {0, 0, 1}, {0, 0, 1}});
  EXPECT_DOUBLE_EQ(ovr.value, 1.0);
  EXPECT_EQ(ovr.num_skipped, 1);
  EXPECT_ERROR(roc_auc_macro({{1, 0}, {1, 0}}, {{0.1, 0.2}, {0.3, 0.4}}), "no class can be scored");
  EXPECT_ERROR(roc_auc_ovr_macro({1, 1}, {{0.1, 0.9}, {0.3, 0.7}}), "no class can be scored");
}

TEST(Metrics, TinyRegression) {
  // y = 1, 2, 3 (mean 2, SS_tot 2); predictions off by 1 at one point: SS_res 1 -> R^2 0.5.
  EXPECT_DOUBLE_EQ(r2_score({{1.0}, {2.0}, {3.0}}, {{1.0}, {2.0}, {4.0}}), 0.5);
  const auto per = r2_score_per_output({{1.0, 5.0}, {2.0, 5.0}, {3.0, 5.0}},
                                       {{1.0, 5.0}, {2.0, 5.0}, {4.0, 5.1}});
  EXPECT_DOUBLE_EQ(per[0], 0.5);
  EXPECT_DOUBLE_EQ(per[1], 0.0);  // constant target mispredicted (sklearn force_finite)
  // A constant column whose mean rounds (0.1 * 3 / 3) still counts as constant.
  EXPECT_DOUBLE_EQ(r2_score({{0.1}, {0.1}, {0.1}}, {{0.1}, {0.1}, {0.2}}), 0.0);
  EXPECT_DOUBLE_EQ(r2_score({{0.1}, {0.1}, {0.1}}, {{0.1}, {0.1}, {0.1}}), 1.0);
}

TEST(Metrics, KeyNamesAndScores) {
  EXPECT_EQ(key_index("C major"), 0);
  EXPECT_EQ(key_index("B major"), 11);
  EXPECT_EQ(key_index("C minor"), 12);
  EXPECT_EQ(key_index("  db   MAJOR "), 1);
  EXPECT_EQ(key_index("Cb minor"), 23);
  EXPECT_EQ(key_index("B# major"), 0);
  EXPECT_EQ(key_name(18), "F# minor");
  const int c = key_index("C major"), am = key_index("A minor");
  EXPECT_EQ(mirex_key_score(c, key_index("G major")), 0.5);  // fifth above
  EXPECT_EQ(mirex_key_score(c, key_index("F major")), 0.0);  // fifth below: not scored
  EXPECT_EQ(mirex_key_score(c, am), 0.3);                    // relative minor
  EXPECT_EQ(mirex_key_score(am, c), 0.3);                    // relative major
  EXPECT_EQ(mirex_key_score(c, key_index("C minor")), 0.2);  // parallel
  EXPECT_EQ(mirex_key_score(am, key_index("E minor")), 0.5);
  EXPECT_EQ(mirex_key_score(c, key_index("D major")), 0.0);
  EXPECT_DOUBLE_EQ(mirex_key_accuracy({c, c, am}, {c, am, key_index("A major")}), 1.5 / 3);
}

// ---- errors -------------------------------------------------------------------------------------

TEST(MetricsErrors, ClassificationInputs) {
  EXPECT_ERROR(accuracy({}, {}), "accuracy: y_true is empty");
  EXPECT_ERROR(accuracy({1, 2}, {1}), "accuracy: y_true has 2 entries but y_pred has 1");
  EXPECT_ERROR(macro_f1({0, 1}, {0, 3}, 3), "macro_f1: y_pred[1] = 3 is out of range [0, 3)");
  EXPECT_ERROR(macro_f1({-1, 1}, {0, 1}, 3), "macro_f1: y_true[0] = -1 is out of range");
  EXPECT_ERROR(macro_f1({0}, {0}, 0), "macro_f1: num_classes = 0 must be >= 1");
  EXPECT_ERROR(f1_per_class({0}, {0, 1}, 2), "f1_per_class: y_true has 1 entries");
}

TEST(MetricsErrors, RankingInputs) {
  const double nan = std::nan("");
  const IntMatrix y = {{1, 0}, {0, 1}};
  EXPECT_ERROR(roc_auc_macro({}, {}), "roc_auc_macro: y_true is empty");
  EXPECT_ERROR(roc_auc_macro({{}}, {{}}), "roc_auc_macro: y_true[0] is empty");
  EXPECT_ERROR(roc_auc_macro({{1, 0}, {1}}, {{0.1, 0.2}, {0.3, 0.4}}),
               "y_true[1] has 1 columns but y_true[0] has 2");
  EXPECT_ERROR(pr_auc_macro(y, {{0.1, 0.2}}), "pr_auc_macro: y_true has 2 rows but scores has 1");
  EXPECT_ERROR(pr_auc_macro(y, {{0.1}, {0.2}}), "y_true has 2 columns but scores has 1");
  EXPECT_ERROR(roc_auc_macro({{1, 2}, {0, 1}}, {{0.1, 0.2}, {0.3, 0.4}}),
               "y_true[0][1] = 2 is not 0 or 1");
  EXPECT_ERROR(roc_auc_macro(y, {{0.1, 0.2}, {nan, 0.4}}), "roc_auc_macro: scores[1][0] is NaN");
  EXPECT_ERROR(pr_auc_macro(y, {{0.1, HUGE_VAL}, {0.3, 0.4}}), "scores[0][1] is infinite");
  EXPECT_ERROR(roc_auc_ovr_macro({0, 2}, {{0.5, 0.5}, {0.5, 0.5}}),
               "roc_auc_ovr_macro: y_true[1] = 2 is out of range [0, 2)");
  EXPECT_ERROR(roc_auc_ovr_macro({0, 0}, {{1.0}, {1.0}}), "one-vs-rest needs >= 2 classes");
  EXPECT_ERROR(roc_auc_ovr_macro({0, 1, 1}, {{0.5, 0.5}, {0.5, 0.5}}),
               "y_true has 3 entries but scores has 2");
  EXPECT_ERROR(roc_auc_ovr_macro({0, 1}, {{0.5, nan}, {0.5, 0.5}}), "scores[0][1] is NaN");
  EXPECT_ERROR(binary_roc_auc({1, 1}, {0.1, 0.2}), "binary_roc_auc: y_true holds only one label");
  EXPECT_ERROR(average_precision({0, 1}, {nan, 0.2}), "average_precision: scores[0] is NaN");
  EXPECT_ERROR(average_precision({0, 3}, {0.1, 0.2}), "y_true[1] = 3 is not 0 or 1");
}

TEST(MetricsErrors, RegressionInputs) {
  EXPECT_ERROR(r2_score({}, {}), "r2_score: y_true is empty");
  EXPECT_ERROR(r2_score({{1.0}}, {{1.0}}), "R^2 needs at least 2 rows");
  EXPECT_ERROR(r2_score({{1.0}, {2.0}}, {{1.0}}), "y_true has 2 rows but y_pred has 1");
  EXPECT_ERROR(r2_score({{1.0}, {2.0}}, {{1.0, 2.0}, {1.0, 2.0}}),
               "y_true has 1 columns but y_pred has 2");
  EXPECT_ERROR(r2_score({{1.0}, {std::nan("")}}, {{1.0}, {2.0}}), "y_true[1][0] is NaN");
  EXPECT_ERROR(r2_score_per_output({{1.0}, {2.0}}, {{1.0}, {-HUGE_VAL}}), "y_pred[1][0] is inf");
}

TEST(Metrics, TinyBeats) {
  EXPECT_NEAR(beat_f_measure({0.5, 1.0, 1.5}, {0.52, 1.2}), 0.4, kTol);  // P 1/2, R 1/3
  EXPECT_EQ(beat_f_measure({1.0, 2.0}, {1.0, 2.0}), 1.0);
  EXPECT_EQ(beat_f_measure({1.0, 2.0}, {1.0, 1.0, 2.0, 2.0}), 2.0 * 0.5 / 1.5);  // one-to-one
  EXPECT_EQ(beat_f_measure({1.0}, {}), 0.0);
  EXPECT_EQ(beat_f_measure({1.0}, {1.2}), 0.0);
  EXPECT_EQ(beat_f_measure({1.0}, {1.2}, 0.25), 1.0);
}

TEST(MetricsErrors, BeatInputs) {
  EXPECT_ERROR(beat_f_measure({1.0, 0.5}, {1.0}),
               "beat_f_measure: reference must be in increasing order");
  EXPECT_ERROR(beat_f_measure({1.0}, {-0.1}), "estimated[0] = -0.1 is not a finite time >= 0");
  EXPECT_ERROR(beat_f_measure({std::nan("")}, {1.0}), "reference[0] = nan");
  EXPECT_ERROR(beat_f_measure({1.0}, {1.0}, -1.0), "window_s = -1 must be finite and >= 0");
}

TEST(MetricsErrors, KeyInputs) {
  for (const char* bad :
       {"", "C", "H major", "C dorian", "C# minor x", "X", "C## major", "Cx major", "major C"})
    EXPECT_ERROR(key_index(bad), "is not a key name") << bad;
  EXPECT_ERROR(key_name(24), "key_name: key = 24 is out of range [0, 24)");
  EXPECT_ERROR(mirex_key_score(-1, 0), "mirex_key_score: true_key = -1 is out of range");
  EXPECT_ERROR(mirex_key_score(0, 24), "pred_key = 24 is out of range");
  EXPECT_ERROR(mirex_key_accuracy({0}, {0, 1}), "true_keys has 1 entries but pred_keys has 2");
  EXPECT_ERROR(mirex_key_accuracy({0, 30}, {0, 1}), "true_keys[1] = 30 is out of range [0, 24)");
  EXPECT_ERROR(mirex_key_accuracy({}, {}), "mirex_key_accuracy: true_keys is empty");
}

}  // namespace
}  // namespace musefm

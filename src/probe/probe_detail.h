// Internal: what the linear and MLP probes share: standardised features and targets of a
// task (Problem), layer mixing, losses, outputs and validation scoring.
#pragma once

#include <ATen/ATen.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "musefm/probe.h"

namespace musefm::probe_detail {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Standardised features of one split and where its rows come from.
struct Rows {
  at::Tensor x;  // [N, L', H] on the device (float64 for linear, float32 for mlp)
  const ProbeSplit* split = nullptr;
  const std::vector<int64_t>* clip = nullptr;
  double frame_rate = 0;  // beat tasks: rows are frames at this rate
};

/// A probe problem: the three splits of one layer choice and the train targets.
struct Problem {
  const ProbeTask* task = nullptr;
  Rows train, valid, test;
  at::Tensor y;              // train targets: [N] long | [N, C] float | [N, D] standardised
  at::Tensor y_valid;        // the same for the validation rows (tie-breaking loss)
  at::Tensor y_mean, y_std;  // regression target statistics (train), [D] on the device
  int64_t layers = 1, dim = 0, outputs = 0;
  std::string metric;  // selection metric (task.metrics[0])
};

/// Standardised features of the chosen layer(s) (train statistics) and targets, on the device,
/// float64 or float32.
Problem make_problem(const ProbeTask& task, const ProbeDataset& data, int layer,
                     const ProbeConfig& cfg, at::ScalarType dtype);
/// [N, L', H] -> [N, H]: the only layer, or the softmax(a)-weighted sum.
at::Tensor mix(const at::Tensor& x, const at::Tensor& a);
/// Probe outputs for scoring: probabilities or regression values in the task's units.
at::Tensor to_outputs(const Problem& p, const at::Tensor& logits);
/// Data loss of a batch; `sum_outputs`: summed over labels / targets (the linear objectives)
/// instead of averaged (MARBLE's BCEWithLogits / MSE).
at::Tensor data_loss(const Problem& p, const at::Tensor& logits, const at::Tensor& y,
                     bool sum_outputs);
/// The selection metric of `outputs` on rows `r` (NaN -> -inf); every metric into `all`.
double select_score(const Problem& p, const Rows& r, const at::Tensor& outputs,
                    std::map<std::string, double>* all = nullptr);

/// L2 linear probe (linear.cpp).
ProbeScores run_linear(const Problem& p, const ProbeConfig& cfg);

}  // namespace musefm::probe_detail

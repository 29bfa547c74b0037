// Internal: a Collective over any c10d backend (ProcessGroupGloo, ProcessGroupNCCL) that meets
// its peers through a TCPStore hosted by rank 0.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <functional>
#include <map>
#include <string>

#include "musefm/distributed.h"

namespace musefm::dist_detail {

class C10dGroup final : public Collective {
 public:
  C10dGroup(const RendezvousConfig& c, c10::intrusive_ptr<c10d::Store> store,
            c10::intrusive_ptr<c10d::Backend> backend, std::string name, bool cuda)
      : config_(c),
        store_(std::move(store)),
        pg_(std::move(backend)),
        name_(std::move(name)),
        cuda_(cuda) {}
  int rank() const override { return config_.rank; }
  int world_size() const override { return config_.world_size; }
  bool reduces_cuda() const override { return cuda_; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    // c10d reduces a list of same-shaped tensors (one per device): ours differ, so each dtype's
    // tensors travel as one flat buffer.
    std::map<at::ScalarType, std::vector<size_t>> by_type;
    for (size_t i = 0; i < tensors.size(); ++i) {
      MUSEFM_CHECK(tensors[i].device().is_cuda() == cuda_,
                   "all_reduce_sum: ", cuda_ ? "CUDA" : "CPU", " tensors only (", name_, ")");
      by_type[tensors[i].scalar_type()].push_back(i);
    }
    for (const auto& [type, idx] : by_type) {
      std::vector<at::Tensor> parts;
      for (size_t i : idx) parts.push_back(tensors[i].reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(parts)};
      run("all_reduce", [&] {
        c10d::AllreduceOptions o;
        o.reduceOp = c10d::ReduceOp::SUM;
        return pg_->allreduce(flat, o);
      });
      int64_t at = 0;
      for (size_t i : idx) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flat[0].narrow(0, at, n).view(tensors[i].sizes()));
        at += n;
      }
    }
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    MUSEFM_CHECK(root >= 0 && root < config_.world_size, "broadcast: root ", root, " outside the ",
                 config_.world_size, " ranks");
    run("broadcast", [&] {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      return pg_->broadcast(tensors, o);
    });
  }
  void barrier() override {
    run("barrier", [&] { return pg_->barrier(c10d::BarrierOptions()); });
  }

 private:
  template <typename F>
  void run(const char* what, F&& start) {
    const auto fail = [&](const char* msg) {
      MUSEFM_FAIL("distributed ", what, " failed on rank ", config_.rank, " of ",
                  config_.world_size, " (", name_, "; a peer died or timed out after ",
                  config_.timeout.count() / 1000.0, " s?): ", msg);
    };
    try {
      auto work = start();
      work->wait(config_.timeout);
    } catch (const c10::Error& e) {
      fail(e.what_without_backtrace());
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  RendezvousConfig config_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> pg_;
  std::string name_;
  bool cuda_;
};

/// Connects to the TCPStore at config.master_addr:`port` (rank 0 hosts it), makes the backend
/// with `make(store)` and wraps it; join failures name the address and the timeout.
template <typename Make>
std::shared_ptr<Collective> join(const RendezvousConfig& c, int port, const std::string& name,
                                 Make&& make, bool cuda = false) {
  const auto fail = [&](const char* msg) {
    MUSEFM_FAIL("distributed: rank ", c.rank, " of ", c.world_size, " could not join the ", name,
                " group at ", c.master_addr, ":", port, " within ", c.timeout.count() / 1000.0,
                " s: ", msg);
  };
  try {
    c10d::TCPStoreOptions opts;
    opts.port = uint16_t(port);
    opts.isServer = c.rank == 0;
    opts.numWorkers = c.world_size;
    opts.waitWorkers = true;
    opts.timeout = c.timeout;
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(c.master_addr, opts);
    c10::intrusive_ptr<c10d::Backend> backend = make(store);
    return std::make_shared<C10dGroup>(c, store, backend, name, cuda);
  } catch (const c10::Error& e) {
    fail(e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(e.what());
  }
  return nullptr;
}

}  // namespace musefm::dist_detail

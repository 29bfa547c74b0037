// k-means teacher: quality against scikit-learn (fixture from tools/make_teacher_fixtures.py),
// determinism, empty clusters, persistence, errors, and a two-process fit over gloo.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/error.h"
#include "musefm/safetensors.h"
#include "musefm/teachers.h"
#include "support/test_support.h"

namespace {
using musefm::KMeans;
using musefm::KMeansConfig;
using musefm::test::fixture;
using musefm::test::load_npy;

nlohmann::json sklearn_reference() {
  std::ifstream f(fixture("teachers/kmeans_sklearn.json"));
  return nlohmann::json::parse(f);
}

TEST(KMeans, InertiaWithinOnePercentOfScikitLearn) {
  const at::Tensor x = load_npy(fixture("teachers/kmeans_rows.npy"));
  const double ref = sklearn_reference()["inertia"].get<double>();
  KMeansConfig c;
  c.k = 8;
  musefm::KMeansReport rep;
  const KMeans km = KMeans::fit(x, c, nullptr, {}, &rep);
  EXPECT_EQ(km.k(), 8);
  EXPECT_EQ(km.dim(), 39);
  EXPECT_NEAR(rep.inertia, km.inertia(x), 1e-6 * rep.inertia);
  EXPECT_LE(rep.inertia, 1.01 * ref) << "musefm " << rep.inertia << " vs scikit-learn " << ref;
  // The refinement never makes it worse than where the mini-batches left it.
  ASSERT_GE(rep.history.size(), 2u);
  EXPECT_LE(rep.inertia, rep.history[1] * (1 + 1e-9));
}

TEST(KMeans, AssignmentMatchesScikitLearnPredict) {
  const at::Tensor x = load_npy(fixture("teachers/kmeans_rows.npy"));
  const KMeans km(load_npy(fixture("teachers/kmeans_centroids.npy")));
  const at::Tensor ref = load_npy(fixture("teachers/kmeans_labels.npy")).to(at::kLong);
  const at::Tensor ids = km.assign(x);
  EXPECT_EQ(ids.scalar_type(), at::kLong);
  EXPECT_EQ(ids.eq(ref).sum().item<int64_t>(), x.size(0));
}

TEST(KMeans, RecoversSeparatedClusters) {
  at::Generator g = at::detail::createCPUGenerator(11);
  const at::Tensor centres = at::randn({6, 4}, g) * 20;
  const at::Tensor truth = at::randint(6, {3000}, g, at::TensorOptions(at::kLong));
  const at::Tensor x = centres.index_select(0, truth) + at::randn({3000, 4}, g) * 0.5;
  KMeansConfig c;
  c.k = 6;
  c.batch_size = 256;
  const at::Tensor ids = KMeans::fit(x, c).assign(x);
  // Every true cluster maps to exactly one found cluster and vice versa.
  for (int t = 0; t < 6; ++t) {
    const at::Tensor found = std::get<0>(at::_unique(ids.index({truth == t})));
    EXPECT_EQ(found.numel(), 1) << "true cluster " << t;
  }
  EXPECT_EQ(std::get<0>(at::_unique(ids)).numel(), 6);
}

TEST(KMeans, SameSeedSameModelOtherSeedOtherStart) {
  const at::Tensor x = load_npy(fixture("teachers/kmeans_rows.npy"));
  KMeansConfig c;
  c.k = 8;
  c.refine_iterations = 0;
  const at::Tensor a = KMeans::fit(x, c).centroids(), b = KMeans::fit(x, c).centroids();
  EXPECT_TRUE(at::equal(a, b));
  c.seed = 1;
  EXPECT_FALSE(at::equal(a, KMeans::fit(x, c).centroids()));
}

TEST(KMeans, EmptyClustersAreReseeded) {
  // Three distinct points repeated, five clusters: k-means++ must repeat points and the
  // refinement re-seeds the empty clusters; nothing becomes NaN and the inertia is zero.
  const at::Tensor pts = at::tensor({0.f, 0.f, 10.f, 0.f, 0.f, 10.f}).view({3, 2});
  const at::Tensor x = pts.repeat({100, 1});
  KMeansConfig c;
  c.k = 5;
  c.batch_size = 64;
  musefm::KMeansReport rep;
  const KMeans km = KMeans::fit(x, c, nullptr, {}, &rep);
  EXPECT_TRUE(at::isfinite(km.centroids()).all().item<bool>());
  EXPECT_NEAR(rep.inertia, 0.0, 1e-6);
}

TEST(KMeans, SaveLoadRoundTripWithMetadata) {
  const KMeans km(load_npy(fixture("teachers/kmeans_centroids.npy")));
  const std::string path = musefm::test::temp_dir() + "/km.safetensors";
  km.save(path, {{"features", "mfcc39"}});
  std::map<std::string, std::string> meta;
  const KMeans back = KMeans::load(path, &meta);
  EXPECT_TRUE(at::equal(back.centroids(), km.centroids()));
  EXPECT_EQ(meta.at("features"), "mfcc39");
  EXPECT_EQ(meta.at("format"), "musefm.kmeans");
}

TEST(KMeans, ClearErrors) {
  const at::Tensor x = at::randn({5, 3});
  KMeansConfig c;
  c.k = 8;
  try {
    KMeans::fit(x, c);
    FAIL() << "fewer rows than clusters accepted";
  } catch (const musefm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("5 rows for k = 8"), std::string::npos) << e.what();
  }
  c.k = 2;
  at::Tensor bad = x.clone();
  bad[2][1] = std::nan("");
  EXPECT_THROW(KMeans::fit(bad, c), musefm::Error);
  EXPECT_THROW(KMeans::fit(x.view({15}), c), musefm::Error);
  const KMeans km(at::randn({2, 3}));
  EXPECT_THROW(km.assign(at::randn({4, 5})), musefm::Error);
  EXPECT_THROW(KMeans(at::randn({3})), musefm::Error);
  // A safetensors file without centroids.
  const std::string path = musefm::test::temp_dir() + "/other.safetensors";
  musefm::save_safetensors(path, {{"weight", at::zeros({2, 2})}});
  try {
    KMeans::load(path);
    FAIL() << "loaded a file without centroids";
  } catch (const musefm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("centroids"), std::string::npos) << e.what();
  }
}

TEST(KMeansConfig, JsonRoundTripAndUnknownKeys) {
  KMeansConfig c;
  c.k = 500;
  c.seed = 9;
  c.refine_tol = 0.5;
  const KMeansConfig back = KMeansConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_THROW(KMeansConfig::from_json(R"({"k": 10, "clusters": 3})"), musefm::Error);
  EXPECT_THROW(KMeansConfig::from_json(R"({"k": 0})"), musefm::Error);
  EXPECT_THROW(KMeansConfig::from_json(R"({"n_init": "many"})"), musefm::Error);
}

// ---- two processes over gloo ---------------------------------------------------------------

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    return 29500 + int(::getpid() % 1000);
  }
  const int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

// Runs `world` kmeans_worker ranks at once; returns their exit statuses (rank order).
std::vector<int> run_ranks(int world, const std::string& out, const std::string& mode,
                           const std::string& dir) {
  std::string cmd = "cd '" + dir + "' || exit 9; ";
  const int port = free_port();
  for (int r = 0; r < world; ++r)
    cmd += "(RANK=" + std::to_string(r) + " WORLD_SIZE=" + std::to_string(world) +
           " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
           " MUSEFM_DIST_TIMEOUT_S=20 OMP_NUM_THREADS=1 '" MUSEFM_KMEANS_WORKER "' '" + out + "' " +
           mode + " 2> err" + std::to_string(r) + "; echo $? > rc" + std::to_string(r) + ") & ";
  cmd += "wait";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::vector<int> rc;
  for (int r = 0; r < world; ++r) {
    std::ifstream f(dir + "/rc" + std::to_string(r));
    int v = -1;
    f >> v;
    rc.push_back(v);
  }
  return rc;
}

TEST(KMeansDistributed, TwoRanksMatchOneRank) {
  const std::string dir = musefm::test::temp_dir();
  ASSERT_EQ(run_ranks(1, dir + "/one.safetensors", "", dir), std::vector<int>{0});
  const std::vector<int> rc = run_ranks(2, dir + "/two.safetensors", "", dir);
  ASSERT_EQ(rc, (std::vector<int>{0, 0}))
      << musefm::test::read_bytes(dir + "/err0") << musefm::test::read_bytes(dir + "/err1");
  std::map<std::string, std::string> m1, m2;
  const KMeans one = KMeans::load(dir + "/one.safetensors", &m1);
  const KMeans two = KMeans::load(dir + "/two.safetensors", &m2);
  EXPECT_LE(musefm::test::max_rel_error(two.centroids(), one.centroids()), 1e-5);
  EXPECT_NEAR(std::stod(m2.at("inertia")), std::stod(m1.at("inertia")),
              1e-5 * std::stod(m1.at("inertia")));
  EXPECT_EQ(m2.at("steps"), m1.at("steps"));
}

TEST(KMeansDistributed, DeadPeerGivesAnErrorNotAHang) {
  const std::string dir = musefm::test::temp_dir();
  const std::vector<int> rc = run_ranks(2, dir + "/x.safetensors", "die", dir);
  EXPECT_EQ(rc[1], 0);  // rank 1 left on purpose
  EXPECT_EQ(rc[0], 3);  // rank 0 reported an error
  const std::string err = musefm::test::read_bytes(dir + "/err0");
  EXPECT_NE(err.find("distributed"), std::string::npos) << err;
}

}  // namespace

// Single-node synced ingest through submit, against RocksDB's own db_bench fillseq with the
// same batch size, value size and sync: the floor cost of a durable write on this machine.
//
// Prints JSON lines: one per scenario, then the ratios. Usage:
//   rollcall_ingest_bench [--quick] [--units FILE] [--rollcalld PATH]
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "bench/bench_util.h"
#include "cli/child_process.h"
#include "report/json_out.h"
#include "cli/node_client.h"
#include "schema/wire.capnp.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "../shared"
#endif

namespace {

using namespace rollcall;
using rollcall::bench::Clock;
using rollcall::bench::percentile;
namespace fs = std::filesystem;

struct Scenario {
  int clients;
  int batch;        // events per submit (and keys per db_bench write)
  int submits;      // per client
};

struct Measured {
  double seconds = 0;
  size_t events = 0;
  size_t rejected = 0;
  std::vector<double> latencies_ms;
};

// The wards of Quận Ba Đình, for realistic unit codes.
const std::vector<std::string> kWards = {"00001", "00004", "00006", "00007", "00008", "00013",
                                         "00016", "00019", "00022", "00025", "00028", "00031", "00034"};

void fill_event(schema::Event::Builder e, int client, uint64_t n) {
  e.setUnit(kWards[n % kWards.size()]);
  e.setEffectiveDate("2024-0" + std::to_string(1 + n % 9) + "-1" + std::to_string(n % 10));
  if (n % 2 == 0) {
    auto a = e.initMemberAdmitted();
    a.setMemberId("b" + std::to_string(client) + "-" + std::to_string(n));
    a.setFullName("Nguyễn Thị Minh Khai");
    a.setBirthDate("2002-05-19");
  } else {
    auto a = e.initActivityReported();
    a.setKind(schema::ActivityKind::EID_LEVEL1);
    a.setCount(static_cast<uint32_t>(n % 200));
    a.setParticipants(static_cast<uint32_t>(n % 30));
  }
}

size_t event_bytes() {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<schema::Event>();
  fill_event(e, 0, 1000000);
  e.setOrigin("001");
  e.setSeq(123456);
  e.setRecordedAt(1764072000000000);
  return capnp::computeSerializedSizeInWords(m) * sizeof(capnp::word);
}

Measured run_clients(const std::string& address, const Scenario& s) {
  Measured out;
  std::atomic<size_t> events{0}, rejected{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(s.clients));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < s.clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = NodeClient::connect(address, std::chrono::seconds(5));
      if (!client.ok()) {
        std::cerr << "bench: " << client.error().message() << "\n";
        return;
      }
      uint64_t n = 0;
      for (int i = 0; i < s.submits; ++i) {
        capnp::MallocMessageBuilder message;
        auto submit = message.initRoot<wire::Message>().initSubmit();
        submit.setRequestTag(static_cast<uint64_t>(i));
        auto list = submit.initEvents(static_cast<unsigned>(s.batch));
        for (int k = 0; k < s.batch; ++k) fill_event(list[static_cast<unsigned>(k)], c, n++);
        const auto sent = Clock::now();
        if (!(*client)->send(message).ok()) return;
        auto frame = (*client)->receive();
        if (!frame.ok()) return;
        latencies[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        for (auto o : (*frame)->root<wire::Message>().getSubmitResult().getOutcomes()) {
          if (o.isAccepted()) {
            ++events;
          } else if (rejected++ == 0) {
            std::cerr << "bench: first rejection: " << o.getRejected().getMessage().cStr() << "\n";
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.events = events;
  out.rejected = rejected;
  for (auto& l : latencies) out.latencies_ms.insert(out.latencies_ms.end(), l.begin(), l.end());
  std::sort(out.latencies_ms.begin(), out.latencies_ms.end());
  return out;
}

// db_bench fillseq: returns ops/s (keys per second), 0 when db_bench is missing or fails.
double db_bench_fillseq(size_t keys, int batch, size_t value_size, const std::string& dir) {
  const std::string command = "db_bench --benchmarks=fillseq --db=" + dir + " --num=" + std::to_string(keys) +
                              " --batch_size=" + std::to_string(batch) + " --value_size=" +
                              std::to_string(value_size) + " --sync=1 --threads=1 --compression_type=lz4 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return 0;
  char line[1024];
  double ops = 0;
  while (fgets(line, sizeof line, pipe)) {
    const char* at = std::strstr(line, "fillseq");
    const char* per = std::strstr(line, "ops/sec");
    if (at && per) {
      // "fillseq      :      12.3 micros/op 81234 ops/sec; ..."
      const char* p = per;
      while (p > line && p[-1] == ' ') --p;
      while (p > line && (std::isdigit(static_cast<unsigned char>(p[-1])) || p[-1] == '.')) --p;
      ops = std::atof(p);
    }
  }
  pclose(pipe);
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string units = std::string(ROLLCALL_SHARED_DIR) + "/data/vn-units-2024.csv";
  std::string rollcalld = cli::executable_dir() + "/../node/rollcalld";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    else if (arg == "--units" && i + 1 < argc) units = argv[++i];
    else if (arg == "--rollcalld" && i + 1 < argc) rollcalld = argv[++i];
    else {
      std::cerr << "usage: rollcall_ingest_bench [--quick] [--units FILE] [--rollcalld PATH]\n";
      return 2;
    }
  }
  std::string work = (fs::temp_directory_path() / "rollcall-bench-XXXXXX").string();
  if (!mkdtemp(work.data())) return 2;

  const size_t value_size = event_bytes();
  std::vector<Scenario> scenarios = quick ? std::vector<Scenario>{{16, 1, 300}, {4, 100, 50}}
                                          : std::vector<Scenario>{{1, 1, 500}, {16, 1, 500}, {64, 1, 200},
                                                                  {4, 100, 200}, {4, 1000, 40}};
  int status = 0;
  for (const auto& s : scenarios) {
    const std::string dir = work + "/node-" + std::to_string(s.clients) + "x" + std::to_string(s.batch);
    const std::string port_file = dir + ".port";
    auto node = cli::ChildProcess::spawn({rollcalld, "--unit", "001", "--data-dir", dir, "--listen", "127.0.0.1:0", "--plaintext",
                                          "--units", units, "--port-file", port_file, "--min-free-mb", "64",
                                          "--log-level", "warn"},
                                         dir + ".log");
    if (!node.ok()) {
      std::cerr << "bench: " << node.error().message() << "\n";
      return 2;
    }
    auto port = node->wait_for_port_file(port_file, std::chrono::seconds(10));
    if (!port.ok()) {
      std::cerr << "bench: rollcalld did not start: " << port.error().message() << " (see " << dir << ".log)\n";
      return 2;
    }
    const Measured m = run_clients("127.0.0.1:" + std::to_string(*port), s);
    node->stop();
    const double rate = static_cast<double>(m.events) / m.seconds;
    std::cout << cli::JsonObject()
                     .add("bench", "ingest")
                     .add("system", "rollcall")
                     .add("clients", static_cast<uint64_t>(s.clients))
                     .add("batch", static_cast<uint64_t>(s.batch))
                     .add("events", static_cast<uint64_t>(m.events))
                     .add("rejected", static_cast<uint64_t>(m.rejected))
                     .raw("seconds", std::to_string(m.seconds))
                     .raw("events_per_s", std::to_string(static_cast<uint64_t>(rate)))
                     .raw("submit_p50_ms", std::to_string(percentile(m.latencies_ms, 0.5)))
                     .raw("submit_p99_ms", std::to_string(percentile(m.latencies_ms, 0.99)))
                     .str()
              << std::endl;
    if (m.rejected > 0 || m.events == 0) status = 1;

    const size_t keys = std::max<size_t>(2000, std::min<size_t>(m.events, quick ? 4000 : 100000));
    const double floor = db_bench_fillseq(keys, s.batch, value_size, dir + "-dbbench");
    std::cout << cli::JsonObject()
                     .add("bench", "ingest")
                     .add("system", "db_bench fillseq")
                     .add("batch", static_cast<uint64_t>(s.batch))
                     .add("value_size", static_cast<uint64_t>(value_size))
                     .add("keys", static_cast<uint64_t>(keys))
                     .raw("keys_per_s", std::to_string(static_cast<uint64_t>(floor)))
                     .str()
              << std::endl;
    if (floor > 0) {
      std::cout << cli::JsonObject()
                       .add("bench", "ingest")
                       .add("ratio", "rollcall events/s / db_bench keys/s")
                       .add("clients", static_cast<uint64_t>(s.clients))
                       .add("batch", static_cast<uint64_t>(s.batch))
                       .raw("value", std::to_string(rate / floor))
                       .str()
                << std::endl;
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return status;
}

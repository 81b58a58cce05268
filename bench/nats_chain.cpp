#include "bench/nats_chain.h"

#include <nats/nats.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "cli/child_process.h"
#include "cli/ports.h"

namespace rollcall::bench {

namespace {

using namespace std::chrono_literals;

constexpr const char* kNatsServer = "/usr/sbin/nats-server";  // Debian's nats-server package

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw std::runtime_error("nats: " + what + ": " + natsStatus_GetText(s));
}

// One nats-server level: its client port, its leaf-node listen port (0: none), its domain.
struct Server {
  std::string name, domain, dir;
  uint16_t port = 0;
  uint16_t leaf_port = 0;
  std::optional<cli::ChildProcess> process;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
};

std::string url(uint16_t port) { return "nats://127.0.0.1:" + std::to_string(port); }

void write_config(const Server& s, uint16_t remote_leaf_port) {
  std::ofstream conf(s.dir + "/server.conf");
  conf << "server_name: " << s.name << "\nlisten: 127.0.0.1:" << s.port << "\n"
       << "jetstream { store_dir: \"" << s.dir << "/store\", domain: " << s.domain << " }\n"
       << "leafnodes {\n";
  if (s.leaf_port != 0) conf << "  listen: 127.0.0.1:" << s.leaf_port << "\n";
  if (remote_leaf_port != 0) conf << "  remotes: [ { url: \"nats-leaf://127.0.0.1:" << remote_leaf_port << "\" } ]\n";
  conf << "}\n";
  if (!conf) throw std::runtime_error("cannot write " + s.dir + "/server.conf");
}

void start(Server& s) {
  auto spawned = cli::ChildProcess::spawn({kNatsServer, "-c", s.dir + "/server.conf"}, s.dir + "/log");
  if (!spawned.ok()) throw std::runtime_error("cannot start nats-server: " + spawned.error().message());
  s.process.emplace(std::move(*spawned));
  const auto deadline = Clock::now() + 15s;
  while (natsConnection_ConnectTo(&s.connection, url(s.port).c_str()) != NATS_OK) {
    if (!s.process->running() || Clock::now() > deadline)
      throw std::runtime_error("nats-server " + s.name + " did not start; see " + s.dir + "/log");
    std::this_thread::sleep_for(50ms);
  }
  check(natsConnection_JetStream(&s.js, s.connection, nullptr), "JetStream context of " + s.name);
}

// Makes `name` at `s`: capturing `subject` at the bottom, else sourcing `source` of the domain
// below. JetStream needs a moment after start; retried for a few seconds.
void add_stream(Server& s, const char* name, const char* subject, const char* source, const std::string& below) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name;
  config.Storage = js_FileStorage;
  const char* subjects[] = {subject};
  const std::string api = "$JS." + below + ".API";
  jsExternalStream external{api.c_str(), ""};  // no deliver prefix: one account throughout
  jsStreamSource upstream{};
  upstream.Name = source;
  upstream.External = &external;
  jsStreamSource* sources[] = {&upstream};
  if (subject) {
    config.Subjects = subjects;
    config.SubjectsLen = 1;
  } else {
    config.Sources = sources;
    config.SourcesLen = 1;
  }
  natsStatus status = NATS_OK;
  for (int attempt = 0; attempt < 100; ++attempt) {
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    status = js_AddStream(&info, s.js, &config, nullptr, &code);
    if (info) jsStreamInfo_Destroy(info);
    if (status == NATS_OK) return;
    std::this_thread::sleep_for(100ms);
  }
  check(status, std::string("adding stream ") + name + " at " + s.name);
}

uint64_t stream_messages(Server& s, const char* stream) {
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, s.js, stream, nullptr, nullptr) != NATS_OK || !info) return 0;
  const uint64_t messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return messages;
}

// Polls until `stream` at `s` holds `count` messages; the time it did.
Clock::time_point wait_for_messages(Server& s, const char* stream, uint64_t count, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (stream_messages(s, stream) < count) {
    if (Clock::now() > deadline)
      throw std::runtime_error(std::string("stream ") + stream + " at " + s.name + " did not reach " +
                               std::to_string(count) + " messages (it holds " +
                               std::to_string(stream_messages(s, stream)) + ")");
    std::this_thread::sleep_for(2ms);
  }
  return Clock::now();
}

// A payload of `size` bytes whose first 8 hold the send time (steady clock, nanoseconds).
std::vector<char> payload(size_t size) {
  std::vector<char> data(std::max<size_t>(size, 8), 'x');
  const int64_t now = Clock::now().time_since_epoch().count();
  std::memcpy(data.data(), &now, sizeof now);
  return data;
}

}  // namespace

struct NatsChain::Impl {
  Server servers[3];  // bottom, middle, top
  uint64_t published = 0;
};

NatsChain::NatsChain(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::exists(kNatsServer))
    throw std::runtime_error(std::string(kNatsServer) + " is missing (Debian's nats-server package)");
  const char* names[] = {"l1", "l2", "l3"};
  for (int i = 0; i < 3; ++i) {
    Server& s = impl_->servers[i];
    s.name = names[i];
    s.domain = names[i];
    s.dir = dir + "/" + names[i];
    std::filesystem::create_directories(s.dir);
    s.port = cli::free_port_below_ephemeral();
    s.leaf_port = i == 0 ? 0 : cli::free_port_below_ephemeral();
  }
  // Top first, so that each leaf finds its hub listening.
  for (int i = 2; i >= 0; --i) {
    write_config(impl_->servers[i], i == 2 ? 0 : impl_->servers[i + 1].leaf_port);
    start(impl_->servers[i]);
  }
  add_stream(impl_->servers[0], "EV1", "ev.>", nullptr, "");
  add_stream(impl_->servers[1], "EV2", nullptr, "EV1", "l1");
  add_stream(impl_->servers[2], "EV3", nullptr, "EV2", "l2");
  // One message through the whole chain: the leaf links and the sourcing consumers are up
  // before anything is timed.
  auto data = payload(64);
  jsPubAck* ack = nullptr;
  check(js_Publish(&ack, impl_->servers[0].js, "ev.warmup", data.data(), static_cast<int>(data.size()), nullptr,
                   nullptr),
        "warm-up publish");
  jsPubAck_Destroy(ack);
  impl_->published = 1;
  wait_for_messages(impl_->servers[2], "EV3", 1, 60s);
}

NatsChain::~NatsChain() {
  for (auto& s : impl_->servers) {
    if (s.js) jsCtx_Destroy(s.js);
    if (s.connection) natsConnection_Destroy(s.connection);
    if (s.process) s.process->stop(5s);
  }
  nats_CloseAndWait(2000);
}

NatsThroughput NatsChain::throughput(size_t count, size_t size, size_t in_flight) {
  // A sliding window: a publish waits while `in_flight` are unacknowledged.
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = static_cast<int64_t>(in_flight);
  options.PublishAsync.StallWait = 60000;
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, impl_->servers[0].connection, &options), "JetStream context");
  const auto start = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    auto data = payload(size);
    check(js_PublishAsync(js, "ev.event", data.data(), static_cast<int>(data.size()), nullptr), "publish");
  }
  jsPubOptions wait_all;
  jsPubOptions_Init(&wait_all);
  wait_all.MaxWait = 600000;
  check(js_PublishAsyncComplete(js, &wait_all), "waiting for acks");
  jsCtx_Destroy(js);
  const auto published = Clock::now();
  impl_->published += count;
  const auto middle = wait_for_messages(impl_->servers[1], "EV2", impl_->published, 600s);
  const auto top = wait_for_messages(impl_->servers[2], "EV3", impl_->published, 600s);
  NatsThroughput out;
  out.publish_s = seconds_between(start, published);
  out.middle_s = seconds_between(start, middle);
  out.top_s = seconds_between(start, top);
  out.events_per_s = static_cast<double>(count) / out.top_s;
  return out;
}

NatsLatency NatsChain::latency(size_t probes, size_t size, int gap_ms) {
  Server& bottom = impl_->servers[0];
  Server& top = impl_->servers[2];
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = "EV3";
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy = js_DeliverNew;
  natsSubscription* sub = nullptr;
  check(js_SubscribeSync(&sub, top.js, "ev.>", nullptr, &sub_options, nullptr), "ordered consumer of EV3");
  NatsLatency out;
  for (size_t i = 0; i < probes; ++i) {
    auto data = payload(size);
    jsPubAck* ack = nullptr;
    check(js_Publish(&ack, bottom.js, "ev.probe", data.data(), static_cast<int>(data.size()), nullptr, nullptr),
          "probe publish");
    jsPubAck_Destroy(ack);
    ++impl_->published;
    natsMsg* msg = nullptr;
    check(natsSubscription_NextMsg(&msg, sub, 10000), "probe delivery from EV3");
    const auto now = Clock::now().time_since_epoch().count();
    int64_t sent = 0;
    std::memcpy(&sent, natsMsg_GetData(msg), sizeof sent);
    natsMsg_Destroy(msg);
    out.ms.push_back(static_cast<double>(now - sent) / 1e6);
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
  }
  natsSubscription_Destroy(sub);
  std::sort(out.ms.begin(), out.ms.end());
  return out;
}

std::vector<double> NatsChain::peak_rss_mib() const {
  std::vector<double> out;
  for (const auto& s : impl_->servers) out.push_back(bench::peak_rss_mib(s.process ? s.process->pid() : -1));
  return out;
}

}  // namespace rollcall::bench

#include "cli/ports.h"

#include <random>
#include <stdexcept>

#include <asio.hpp>

namespace rollcall::cli {

uint16_t free_port_below_ephemeral() {
  static std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> pick(20000, 31999);
  asio::io_context io;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(random));
    asio::ip::tcp::acceptor probe(io);
    asio::error_code ec;
    const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port of 127.0.0.1 in [20000, 32000)");
}

}  // namespace rollcall::cli

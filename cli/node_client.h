// NodeClient: a blocking connection from an operator tool to a rollcalld node: handshake,
// then pipelined submits. Cap'n Proto frames over TCP as in docs/protocol.md.
//
// Ownership: owns its io_context and channel. One thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio.hpp>

#include "engine/frame_codec.h"
#include "engine/status.h"
#include "net/channel.h"
#include "net/client_credentials.h"
#include "schema/wire.capnp.h"

namespace rollcall {

class NodeClient {
 public:
  // Connects to HOST:PORT and exchanges hellos. Errors: kUnavailable when the node cannot be
  // reached, kIncompatible when it speaks another protocol version.
  // With TLS credentials (by default those of the environment, net/client_credentials.h) the
  // node's certificate is verified and the client's certificate or token shown.
  static Result<std::unique_ptr<NodeClient>> connect(const std::string& host_port, std::chrono::milliseconds timeout,
                                                     const ClientCredentials& credentials = ClientCredentials::from_env());

  const std::string& node_unit() const { return node_unit_; }

  // Sends one frame.
  Status send(capnp::MessageBuilder& message);
  // Waits for the next frame. A Message.error from the node becomes an Error naming it.
  Result<std::unique_ptr<Frame>> receive();

 private:
  NodeClient() = default;

  std::string address_;
  asio::io_context io_;
  std::unique_ptr<Channel> channel_;
  FrameDecoder decoder_;
  std::string node_unit_;
};

}  // namespace rollcall

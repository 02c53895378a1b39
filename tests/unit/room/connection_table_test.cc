#include "services/room/connection_table.h"

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"

namespace push::room {
namespace {

// TcpConnections that are never started or connected: the table only reads and sets their
// id and context. They are closed (and freed) by the loop at the end.
class ConnectionTableTest : public ::testing::Test {
 protected:
  net::TcpConnection& newConnection() {
    net::TcpConnection* c = net::TcpConnection::createUnstarted(loop_);
    made_.push_back(c);
    return *c;
  }
  void TearDown() override {
    for (net::TcpConnection* c : made_)
      c->close();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }
  net::EventLoop loop_;
  std::vector<net::TcpConnection*> made_;
};

TEST_F(ConnectionTableTest, AStaleIdFindsNothingAfterItsSlotIsReused) {
  ConnectionTable table;
  net::TcpConnection& a = newConnection();
  ClientConn& ca = table.add(a);
  const net::ConnId old_id = a.id();
  EXPECT_EQ(table.find(old_id), &ca);
  EXPECT_EQ(&ConnectionTable::of(a), &ca);
  EXPECT_EQ(table.size(), 1u);
  table.remove(ca);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(old_id), nullptr);

  net::TcpConnection& b = newConnection();
  ClientConn& cb = table.add(b);  // the same slot, a new generation
  EXPECT_EQ(net::slotOf(b.id()), net::slotOf(old_id));
  EXPECT_NE(b.id(), old_id);
  EXPECT_EQ(table.find(old_id), nullptr) << "a stale id found the slot's new connection";
  EXPECT_EQ(table.find(b.id()), &cb);
  EXPECT_EQ(table.find(net::makeConnId(99, 1)), nullptr);  // a slot never used
}

}  // namespace
}  // namespace push::room

// Fixed, disjoint port windows for the tests that start real nodes on fixed ports (`cluster init
// --base-port P` lays a node's ports out over P … P+702). Test files run in parallel, so each gets
// a window of its own; all stay below Linux's ephemeral range (32768+), where a client's outgoing
// connection could otherwise hold a port a node wants to listen on.
export const PORT_WINDOWS = {
  clusterCli: 21_000,
  chainfireCluster: 22_000,
  flaredbCluster: 23_000,
  backupRestore: 24_000,
  iamCluster: 25_000,
  chainfireMaintenance: 26_000,
  devProfile: 27_000,
} as const;

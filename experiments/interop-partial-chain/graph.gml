graph [
  directed 1
  node [
    id 0
    label "europe-supernode"
    host_bandwidth_up "1024 Mbit"
    host_bandwidth_down "1024 Mbit"
  ]
  node [
    id 1
    label "europe-fullnode"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 2
    label "na_east-fullnode"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  edge [
    source 0
    target 0
    label "europe-supernode to europe-supernode"
    latency "2 ms"
    packet_loss 0.0
  ]
  edge [
    source 0
    target 1
    label "europe-supernode to europe-fullnode"
    latency "3 ms"
    packet_loss 0.0
  ]
  edge [
    source 0
    target 2
    label "europe-supernode to na_east-fullnode"
    latency "70 ms"
    packet_loss 0.0
  ]
  edge [
    source 1
    target 0
    label "europe-fullnode to europe-supernode"
    latency "3 ms"
    packet_loss 0.0
  ]
  edge [
    source 1
    target 1
    label "europe-fullnode to europe-fullnode"
    latency "4 ms"
    packet_loss 0.0
  ]
  edge [
    source 1
    target 2
    label "europe-fullnode to na_east-fullnode"
    latency "72 ms"
    packet_loss 0.0
  ]
  edge [
    source 2
    target 0
    label "na_east-fullnode to europe-supernode"
    latency "70 ms"
    packet_loss 0.0
  ]
  edge [
    source 2
    target 1
    label "na_east-fullnode to europe-fullnode"
    latency "72 ms"
    packet_loss 0.0
  ]
  edge [
    source 2
    target 2
    label "na_east-fullnode to na_east-fullnode"
    latency "6 ms"
    packet_loss 0.0
  ]
]

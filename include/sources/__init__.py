"""Where source data comes from: one interface, a local folder transport and the Microsoft transports."""

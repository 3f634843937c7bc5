abi <abi/3.0>,

profile one {
  file,
}

# the second profile
profile "two words" /usr/bin/two {
  capability,
}

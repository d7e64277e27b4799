// The program of every layer's link check (CMakeLists.txt, "The layer checks"). It does nothing:
// what is checked is that it links at all with one layer's whole archive and only the layers that
// layer may use, so every symbol the layer's code calls is defined in those layers.
int main() {
  return 0;
}

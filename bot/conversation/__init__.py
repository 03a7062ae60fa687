"""What every surface says to a person: the command language, and the answers to it, decided once."""

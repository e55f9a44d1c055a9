"""Models: the face decoder, its discriminator, the voice encoder; training and safe saving."""

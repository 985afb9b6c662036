"""crochet-messaging: the messaging backend of the crochet pattern marketplace."""

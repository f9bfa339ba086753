"""The course's networks, each small enough to read in one sitting."""

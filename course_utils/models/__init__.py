"""The course's networks, each small enough to read in one sitting, and the contract every generative model keeps
(:mod:`course_utils.models.generative`). A network file imports torch and the contract only; how a network is
trained lives in :mod:`course_utils.training`."""

from services.runtime.service import main
from services.scheduling.app import definition

main(definition)

from services.recognition.app import definition
from services.runtime.service import main

main(definition)
